"""The local stack's moto patches change how fast moto answers, never what it answers."""
import random

import boto3
import pytest
from moto import mock_aws
from moto.dynamodb import models as dynamodb_models

from devstack import moto_server

CHATS, USERS = "chats", "users"


def create_tables(client) -> None:
    client.create_table(
        TableName=CHATS, BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[{"AttributeName": name, "AttributeType": "S"} for name in ("pk", "sk", "member_id")],
        GlobalSecondaryIndexes=[{"IndexName": "by_member", "Projection": {"ProjectionType": "ALL"},
                                 "KeySchema": [{"AttributeName": "member_id", "KeyType": "HASH"}]}])
    client.create_table(
        TableName=USERS, BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "user_id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": name, "AttributeType": "S"} for name in ("user_id", "shard", "seen")],
        GlobalSecondaryIndexes=[{"IndexName": "online", "Projection": {"ProjectionType": "ALL"},
                                 "KeySchema": [{"AttributeName": "shard", "KeyType": "HASH"},
                                               {"AttributeName": "seen", "KeyType": "RANGE"}]}])


def fill(client, rng: random.Random) -> None:
    for n in range(400):
        item = {"pk": {"S": f"chat#{rng.randrange(12)}"}, "sk": {"S": f"msg#{rng.randrange(10_000):05d}"}}
        if rng.random() < 0.3:
            item["member_id"] = {"S": f"user#{rng.randrange(8)}"}
        client.put_item(TableName=CHATS, Item=item)
        user = {"user_id": {"S": f"user#{n}"}}
        if rng.random() < 0.5:
            user |= {"shard": {"S": str(rng.randrange(3))}, "seen": {"S": f"{rng.randrange(1000):04d}"}}
        client.put_item(TableName=USERS, Item=user)


QUERIES = [
    dict(TableName=CHATS, KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": {"S": "chat#3"}}),
    dict(TableName=CHATS, KeyConditionExpression="pk = :p AND sk > :s", ScanIndexForward=False, Limit=7,
         ExpressionAttributeValues={":p": {"S": "chat#5"}, ":s": {"S": "msg#03000"}}),
    dict(TableName=CHATS, KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": {"S": "chat#nobody"}}),
    dict(TableName=CHATS, IndexName="by_member", KeyConditionExpression="member_id = :m", Limit=4,
         ExpressionAttributeValues={":m": {"S": "user#2"}}),
    dict(TableName=USERS, KeyConditionExpression="user_id = :u", ExpressionAttributeValues={":u": {"S": "user#9"}}),
    dict(TableName=USERS, IndexName="online", KeyConditionExpression="shard = :s AND seen < :t", Limit=5,
         ExpressionAttributeValues={":s": {"S": "1"}, ":t": {"S": "0600"}}),
]


def every_page(client, query: dict) -> list:
    pages, start = [], {}
    while True:
        answer = client.query(**query, **start)
        pages.append((answer["Items"], answer.get("LastEvaluatedKey")))
        if "LastEvaluatedKey" not in answer:
            return pages
        start = {"ExclusiveStartKey": answer["LastEvaluatedKey"]}


def change(client, rng: random.Random) -> None:
    """Index attributes set, moved and removed in place, items overwritten and deleted, a transaction undone."""
    for _ in range(150):
        chat = {"pk": {"S": f"chat#{rng.randrange(12)}"}, "sk": {"S": f"msg#{rng.randrange(10_000):05d}"}}
        user = {"user_id": {"S": f"user#{rng.randrange(400)}"}}
        roll = rng.random()
        if roll < 0.3:
            client.update_item(TableName=CHATS, Key=chat, UpdateExpression="SET member_id = :m",
                               ExpressionAttributeValues={":m": {"S": f"user#{rng.randrange(8)}"}})
            client.update_item(TableName=USERS, Key=user, UpdateExpression="SET #shard = :s, seen = :t",
                               ExpressionAttributeNames={"#shard": "shard"},
                               ExpressionAttributeValues={":s": {"S": str(rng.randrange(3))},
                                                          ":t": {"S": f"{rng.randrange(1000):04d}"}})
        elif roll < 0.5:
            client.update_item(TableName=USERS, Key=user, UpdateExpression="REMOVE #shard",
                               ExpressionAttributeNames={"#shard": "shard"})
        elif roll < 0.7:
            client.delete_item(TableName=CHATS, Key=chat)
            client.delete_item(TableName=USERS, Key=user)
        elif roll < 0.9:
            client.put_item(TableName=CHATS, Item=chat | {"member_id": {"S": f"user#{rng.randrange(8)}"}})
        else:
            with pytest.raises(client.exceptions.TransactionCanceledException):
                client.transact_write_items(TransactItems=[
                    {"Update": {"TableName": CHATS, "Key": chat, "UpdateExpression": "SET member_id = :m",
                                "ExpressionAttributeValues": {":m": {"S": "user#2"}}}},
                    {"ConditionCheck": {"TableName": USERS, "Key": {"user_id": {"S": "nobody"}},
                                        "ConditionExpression": "attribute_exists(user_id)"}}])


def answers(seed: int) -> list:
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        create_tables(client)
        rng = random.Random(seed)
        fill(client, rng)
        before = [every_page(client, query) for query in QUERIES]
        change(client, rng)
        return before + [every_page(client, query) for query in QUERIES]


@pytest.mark.parametrize("seed", [1, 2])
def test_queries_answer_as_moto_does(seed, monkeypatch):
    expected = answers(seed)
    for owner, name in [(dynamodb_models, "copy"), (dynamodb_models.DynamoDBBackend, "transact_write_items"),
                        (dynamodb_models.DynamoDBBackend, "update_item"), (dynamodb_models.Table, "query"),
                        (dynamodb_models.Table, "put_item")]:
        monkeypatch.setattr(owner, name, getattr(owner, name))  # restored after the test
    moto_server.patch_dynamodb()
    assert answers(seed) == expected
    assert sum(len(pages) for pages in expected) > 2 * len(QUERIES)  # some answers took more than one page
    assert expected[:len(QUERIES)] != expected[len(QUERIES):]  # the changes changed what the queries answer


class CountingLock:
    """An RLock that counts how often it is taken."""

    def __init__(self):
        import threading
        self._lock, self.holds = threading.RLock(), 0

    def __enter__(self):
        self._lock.acquire()
        self.holds += 1

    def __exit__(self, *_):
        self._lock.release()


def test_the_ttl_sweep_deletes_the_expired_a_few_partitions_to_a_hold_of_the_lock():
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        create_tables(client)
        client.update_time_to_live(TableName=CHATS, TimeToLiveSpecification={"AttributeName": "expires_at",
                                                                              "Enabled": True})
        partitions = 3 * moto_server.PARTITIONS_PER_HOLD
        for n in range(partitions):
            client.put_item(TableName=CHATS, Item={"pk": {"S": f"news#{n}"}, "sk": {"S": "1"},
                                                   "expires_at": {"N": "100"}})
        client.put_item(TableName=CHATS, Item={"pk": {"S": "news#0"}, "sk": {"S": "2"}, "expires_at": {"N": "999"}})
        client.put_item(TableName=CHATS, Item={"pk": {"S": "chat#1"}, "sk": {"S": "meta"}})  # no TTL attribute
        lock = CountingLock()
        assert moto_server.delete_expired(lock, cutoff=500) == partitions
        assert lock.holds >= 3  # never every partition in one hold, so requests go on between them
        left = client.scan(TableName=CHATS)["Items"]
        assert sorted((i["pk"]["S"], i["sk"]["S"]) for i in left) == [("chat#1", "meta"), ("news#0", "2")]


def test_an_upload_past_its_policys_expiration_is_refused_as_s3_refuses_it():
    policy = {"expiration": "2030-01-01T00:10:00.000Z", "conditions": [["content-length-range", 5, 5]]}
    assert moto_server.post_policy_refusal(policy, "b", {}, 5, 1_893_456_000) is None  # 2030-01-01T00:00:00Z
    assert moto_server.post_policy_refusal(policy, "b", {}, 5, 1_893_456_600)[:2] == (403, "AccessDenied")
