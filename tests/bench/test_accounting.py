"""devstack/accounting.py counts a known sequence of boto3 calls, and their capacity units, as AWS would."""
import boto3
import pytest
from moto import mock_aws

from devstack.accounting import Accounting, item_size
from devstack.aws import FAKE_CREDENTIALS

TEXT = "h" * 2000


@pytest.fixture
def session(monkeypatch):
    for name, value in FAKE_CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        session = boto3.session.Session()
        session.client("dynamodb").create_table(
            TableName="t", BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[{"AttributeName": name, "AttributeType": "S"} for name in ("pk", "sk", "owner")],
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
            GlobalSecondaryIndexes=[{"IndexName": "by_owner",
                                     "KeySchema": [{"AttributeName": "owner", "KeyType": "HASH"}],
                                     "Projection": {"ProjectionType": "INCLUDE", "NonKeyAttributes": ["score"]}}])
        yield session


def test_item_sizes_follow_the_aws_formula():
    assert item_size({"a": {"S": "abc"}}) == 4
    assert item_size({"n": {"N": "12345"}, "z": {"N": "-0.00120"}}) == (1 + 4) + (1 + 2)
    assert (item_size({"m": {"M": {"k": {"S": "v"}}}, "l": {"L": [{"N": "1"}, {"BOOL": True}]}})
            == (1 + 3 + 1 + 1 + 1) + (1 + 3 + 3 + 2))


def test_requests_and_capacity_units_of_a_known_sequence(session):
    accounting = Accounting()
    accounting.hook(session)
    dynamodb, key = session.client("dynamodb"), {"pk": {"S": "a"}, "sk": {"S": "1"}}
    accounting.reset(sizing=True)

    dynamodb.put_item(TableName="t", Item={**key, "owner": {"S": "x"}, "score": {"N": "5"}, "text": {"S": TEXT}})
    dynamodb.get_item(TableName="t", Key=key)  # 2,023 bytes, eventually consistent
    dynamodb.update_item(TableName="t", Key=key, UpdateExpression="SET #t = :h",  # shrinks to 24 bytes
                         ExpressionAttributeNames={"#t": "text"}, ExpressionAttributeValues={":h": {"S": "h"}})
    dynamodb.update_item(TableName="t", Key=key, UpdateExpression="SET score = :six",  # moves its index entry
                         ExpressionAttributeValues={":six": {"N": "6"}})
    dynamodb.query(TableName="t", KeyConditionExpression="pk = :a", ExpressionAttributeValues={":a": {"S": "a"}},
                   ConsistentRead=True)
    with pytest.raises(dynamodb.exceptions.ConditionalCheckFailedException):
        dynamodb.put_item(TableName="t", Item=key, ConditionExpression="attribute_not_exists(pk)")
    dynamodb.delete_item(TableName="t", Key=key)
    dynamodb.get_item(TableName="t", Key=key)  # not there: still the minimum

    counted = {name: (tally["requests"], tally["errors"], tally["read_units"], tally["write_units"],
                      tally["index_write_units"]) for name, tally in accounting.snapshot()["operations"].items()}
    assert counted == {"dynamodb.PutItem": (2, 1, 0, 2 + 1, 1), "dynamodb.GetItem": (2, 0, 0.5 + 0.5, 0, 0),
                       "dynamodb.UpdateItem": (2, 0, 0, 2 + 1, 1), "dynamodb.Query": (1, 0, 1, 0, 0),
                       "dynamodb.DeleteItem": (1, 0, 0, 1, 1)}


def test_without_sizing_an_update_counts_the_minimum_and_idle_polls_count_apart(session):
    accounting = Accounting()
    accounting.hook(session)
    dynamodb, sqs = session.client("dynamodb"), session.client("sqs")
    queue = sqs.create_queue(QueueName="q")["QueueUrl"]
    dynamodb.put_item(TableName="t", Item={"pk": {"S": "a"}, "sk": {"S": "1"}, "text": {"S": TEXT}})
    accounting.reset()

    dynamodb.update_item(TableName="t", Key={"pk": {"S": "a"}, "sk": {"S": "1"}}, UpdateExpression="SET n = :one",
                         ExpressionAttributeValues={":one": {"N": "1"}})
    sqs.receive_message(QueueUrl=queue)
    sqs.send_message(QueueUrl=queue, MessageBody="task")
    sqs.receive_message(QueueUrl=queue)

    snapshot = accounting.snapshot()
    assert snapshot["operations"]["dynamodb.UpdateItem"]["write_units"] == 1
    assert snapshot["idle_polls"] == 1
    assert {name: tally["requests"] for name, tally in snapshot["services"].items()} == {"dynamodb": 1, "sqs": 2}
