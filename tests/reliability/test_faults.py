"""Fault injection at the botocore level, deterministic by seed (PARLEY_FAULT_SEEDS=N runs N seeds).

Whatever fails, the same invariants hold: every message a sender was told is `sent` is stored once (one item
per seq, seqs 1..last_seq with no hole, no message at two seqs), a retry with the same client_msg_id never
stores a second one, and every member ends up with every message (live, or through `sync` and `history`).
"""
import json
from collections import Counter

import pytest

from chalicelib.delivery import HANDSHAKE_GRACE
from chalicelib.model import SEND_LEASE
from tests.reliability.conftest import fault_seeds, media_objects, png, s3_event
from tests.reliability.faults import SERVER_ERROR, THROTTLED, THROTTLING

SEEDS = fault_seeds()


def on_table(table: str):
    return lambda operation, payload: payload.get("TableName") == table or table in json.dumps(
        payload.get("RequestItems", {}))


def send_until_stored(parley, socket, chat_id: str, text: str, client_msg_id: str, attempts: int = 6,
                      tries: Counter | None = None) -> dict:
    """Send as a client does: again with the same client_msg_id after `internal` or `conflict`; `tries`
    counts the sends of each client_msg_id."""
    for _ in range(attempts):
        reply = socket.send(chat_id, text, client_msg_id)
        if tries is not None:
            tries[client_msg_id] += 1
        if reply["type"] == "sent":
            return reply
        assert reply["type"] == "error" and reply["code"] in ("internal", "conflict"), reply
        if reply["code"] == "conflict":  # the first attempt's claim holds until its lease ends
            parley.advance(SEND_LEASE + 1)
    raise AssertionError(f"{client_msg_id} never got `sent`")


def assert_everyone_has_everything(parley, chat_id: str, sockets) -> None:
    """Each member's view (live, then sync from its cursor, then history) is exactly what storage holds.
    The reads come first: they are what closes the holes a dead attempt left, once its lease is over."""
    views = {socket.user_id: {seq: m["message_id"] for seq, m in socket.view(chat_id).items()} for socket in sockets}
    stored = {item["seq"]: item["message_id"] for item in parley.assert_storage_sound(chat_id)}
    for user_id, view in views.items():
        assert view == stored, user_id


@pytest.mark.parametrize("seed", SEEDS)
def test_dynamodb_throttling_is_absorbed_or_fails_cleanly_and_resends_store_once(parley, seed):
    """Throttles on a quarter of all DynamoDB calls. The clients' retries (botocore's standard mode: 3 attempts)
    absorb most; a send whose retries run out answers `internal` (or `conflict` while its claim holds) and the
    same client_msg_id sent again stores it exactly once."""
    alice, bob, carol = parley.user("alice"), parley.user("bob"), parley.user("carol")
    direct, group = parley.direct(alice, bob), parley.group(alice, [bob, carol])
    sockets = {user: parley.connect(user) for user in (alice, bob, carol)}
    parley.faults.add("dynamodb", "refuse", THROTTLED, probability=0.15)
    parley.faults.add("dynamodb", "refuse", THROTTLING, probability=0.1)

    surfaced, tries, seq_of = 0, Counter(), {}
    for i in range(24):
        sender = (alice, bob, carol)[i % 3]
        chat_id = group if sender == carol or i % 2 else direct
        text, client_msg_id = f"{sender} says {i}", f"m{i}"
        first = sockets[sender].send(chat_id, text, client_msg_id)
        tries[client_msg_id] += 1
        surfaced += first["type"] == "error"
        reply = send_until_stored(parley, sockets[sender], chat_id, text, client_msg_id, tries=tries)
        seq_of[chat_id, reply["seq"]] = client_msg_id
        if i % 5 == 0:  # the same frame again: the original comes back
            again = send_until_stored(parley, sockets[sender], chat_id, text, client_msg_id, tries=tries)
            assert (again["seq"], again["message_id"]) == (reply["seq"], reply["message_id"])
    for socket in sockets.values():
        for _ in range(5):
            if socket.call("receipt", chat_id=group, seq=parley.last_seq(group), status="read")["type"] == "ok":
                break

    absorbed = len(parley.retry_sleeps.slept)
    assert absorbed > 10 and absorbed > surfaced, (absorbed, surfaced)
    parley.faults.clear()
    parley.advance(SEND_LEASE + 1)
    for chat_id, members in ((direct, (alice, bob)), (group, (alice, bob, carol))):
        assert_everyone_has_everything(parley, chat_id, [sockets[user] for user in members])
        texts = [item.get("text") for item in parley.stored(chat_id) if item["kind"] == "text"]
        assert len(texts) == len(set(texts)) == len([i for i in range(24)
                                                     if ((i % 3 == 2 or i % 2) == (chat_id == group))])
    for socket in sockets.values():  # pushed again only by a resend (at least once), never more often
        for chat_id in (direct, group):
            pushes = Counter(f["message"]["seq"] for f in socket.of_type("message")
                             if f["message"]["chat_id"] == chat_id)
            assert all(count <= tries[seq_of[chat_id, seq]] for seq, count in pushes.items()), (pushes, tries)


def send_path_calls(parley) -> list[tuple[str, str]]:
    """The DynamoDB calls one `send` makes, in order (a dry run)."""
    alice, bob = parley.user("alice"), parley.user("bob")
    chat_id = parley.direct(alice, bob)
    socket = parley.connect(alice)
    parley.connect(bob)
    socket.send(chat_id, "warm up")
    start = len(parley.faults.calls)
    assert socket.send(chat_id, "dry run")["type"] == "sent"
    return [call for call in parley.faults.calls[start:] if call[0] == "dynamodb"]


def test_a_send_failing_at_any_dynamodb_call_stores_one_message_once_retried(parley):
    """Retries exhausted at each call of the send path in turn: the send answers `internal` (never
    anything else), and resending the same client_msg_id ends with exactly one stored message."""
    calls = send_path_calls(parley)
    assert len(calls) >= 5, calls
    for position, (_, operation) in enumerate(calls):
        alice, bob = parley.user("alice"), parley.user("bob")
        chat_id = parley.direct(alice, bob)
        a, b = parley.connect(alice), parley.connect(bob)
        a.send(chat_id, "before")
        rule = parley.faults.add("dynamodb", "raise", THROTTLED, nth=position)
        first = a.send(chat_id, "the one", "cmid-1")
        parley.faults.clear()
        assert rule.fired == 1, (position, operation)
        assert first["type"] == "sent" or first["code"] == "internal", (position, operation, first)
        final = send_until_stored(parley, a, chat_id, "the one", "cmid-1")
        if first["type"] == "sent":
            assert (final["seq"], final["message_id"]) == (first["seq"], first["message_id"])
        a.send(chat_id, "after")
        parley.advance(SEND_LEASE + 1)  # holes left by a dead attempt are closed once its lease is over
        assert_everyone_has_everything(parley, chat_id, [a, b])
        stored = parley.assert_storage_sound(chat_id)
        assert [item["seq"] for item in stored if item.get("text") == "the one"] == [final["seq"]], \
            (position, operation)


def test_lost_answers_to_the_send_path_writes_store_one_message(parley):
    """Each write of the send path applied but its answer lost (botocore retries it), in turn — except the
    message write itself, which the next test covers."""
    messages_table = parley.env["MESSAGES_TABLE"]
    writes = [(i, op) for i, (_, op) in enumerate(send_path_calls(parley))
              if op in ("PutItem", "UpdateItem", "DeleteItem", "TransactWriteItems", "BatchWriteItem")]
    for nth_write in range(len(writes)):
        alice, bob = parley.user("alice"), parley.user("bob")
        chat_id = parley.direct(alice, bob)
        a, b = parley.connect(alice), parley.connect(bob)
        a.send(chat_id, "before")
        rule = parley.faults.add(
            "dynamodb", "lost", SERVER_ERROR, operations={"PutItem", "UpdateItem", "DeleteItem"},
            nth=nth_write, match=lambda op, payload: not (op == "PutItem" and payload["TableName"] == messages_table))
        first = a.send(chat_id, "the one", "cmid-1")
        parley.faults.clear()
        final = send_until_stored(parley, a, chat_id, "the one", "cmid-1")
        a.send(chat_id, "after")
        parley.advance(SEND_LEASE + 1)
        assert_everyone_has_everything(parley, chat_id, [a, b])
        stored = parley.assert_storage_sound(chat_id)
        assert [item["seq"] for item in stored if item.get("text") == "the one"] == [final["seq"]], \
            (nth_write, rule.fired, first)


def test_a_lost_answer_to_the_message_write_does_not_store_it_twice(parley):
    alice, bob = parley.user("alice"), parley.user("bob")
    chat_id = parley.direct(alice, bob)
    a = parley.connect(alice)
    parley.connect(bob)  # online, so the send pushes too
    messages_table = parley.env["MESSAGES_TABLE"]
    parley.faults.add("dynamodb", "lost", SERVER_ERROR, operations={"PutItem"}, nth=0,
                      match=lambda op, payload: payload["TableName"] == messages_table)
    reply = a.send(chat_id, "only once", "cmid-1")
    assert reply["type"] == "sent"
    assert [item["seq"] for item in parley.stored(chat_id) if item.get("text") == "only once"] == [reply["seq"]]


@pytest.mark.parametrize("seed", SEEDS)
def test_gone_sockets_are_removed_and_failing_pushes_never_fail_the_send(parley, seed):
    alice, bob = parley.user("alice"), parley.user("bob")
    chat_id = parley.direct(alice, bob)
    a = parley.connect(alice)
    phone, tablet, laptop = (parley.connect(bob, device) for device in ("phone", "tablet", "laptop"))
    parley.api.gone.add(phone.connection_id)  # the phone died without $disconnect: @connections answers 410
    parley.advance(HANDSHAKE_GRACE + 1)  # (a younger socket answering 410 may still be opening: it is kept)
    parley.faults.add("apigatewaymanagementapi", "refuse", SERVER_ERROR,  # the tablet's pushes always fail
                      match=lambda op, payload: payload["path"].endswith(tablet.connection_id))
    parley.faults.add("apigatewaymanagementapi", "refuse", SERVER_ERROR, probability=0.3,  # the laptop's, often
                      match=lambda op, payload: payload["path"].endswith(laptop.connection_id),
                      key=lambda op, payload: payload["path"])
    for i in range(8):
        assert a.send(chat_id, f"m{i}")["type"] == "sent"

    assert parley.services.stores.users.connection(phone.connection_id) is None
    live = {c.connection_id for c in parley.services.stores.users.reach_of([bob])[bob].connections}
    assert live == {tablet.connection_id, laptop.connection_id}  # a 500 is not a 410: the tablet stays
    assert parley.faults.fired() > 0
    parley.faults.clear()
    assert_everyone_has_everything(parley, chat_id, [a, tablet, laptop])


def test_failing_to_forget_a_gone_socket_does_not_fail_the_send(parley):
    alice, bob = parley.user("alice"), parley.user("bob")
    chat_id = parley.direct(alice, bob)
    a, phone = parley.connect(alice), parley.connect(bob, "phone")
    parley.api.gone.add(phone.connection_id)
    parley.advance(HANDSHAKE_GRACE + 1)
    parley.faults.add("dynamodb", "raise", THROTTLED, operations={"DeleteItem"},
                      match=on_table(parley.env["CONNECTIONS_TABLE"]))
    assert a.send(chat_id, "hello")["type"] == "sent"


def test_a_socket_whose_handshake_raced_a_push_is_answered_or_closed(parley):
    alice, bob = parley.user("alice"), parley.user("bob")
    chat_id = parley.direct(alice, bob)
    a, b = parley.connect(alice), parley.connect(bob)  # $connect has stored bob's socket...
    parley.api.gone.add(b.connection_id)  # ...which API Gateway has not opened yet: posts to it answer 410
    assert a.send(chat_id, "hello")["type"] == "sent"
    parley.api.gone.discard(b.connection_id)  # now it is open
    answered = b.raw(json.dumps({"action": "heartbeat", "req": "alive?"}))
    assert answered or b.connection_id in parley.api.deleted, "the socket is open, silent, and never closed"


def test_a_socket_whose_record_is_gone_is_closed_so_that_its_client_reconnects(parley):
    alice = parley.user("alice")
    socket = parley.connect(alice)
    users = parley.services.stores.users
    users.remove_connection(users.connection(socket.connection_id))  # swept
    assert socket.raw(json.dumps({"action": "heartbeat", "req": "alive?"})) == []
    assert parley.api.deleted == [socket.connection_id]


def big_group(parley, size: int = 130, connected_every: int = 6):
    """A group above the fan-out threshold (its frames go through SQS); the admin and every sixth member
    connected (spread over every fan-out task), the others offline."""
    admin = parley.user("admin")
    members = [parley.user("member") for _ in range(size - 1)]
    sockets = {user: parley.connect(user) for user in [admin, *members[::connected_every]]}  # before the group
    chat_id = parley.group(admin, members, name="big")
    parley.drain()  # the `chat` frames of its creation
    return chat_id, admin, sockets


@pytest.mark.parametrize("seed", SEEDS)
def test_a_fan_out_that_crashes_midway_is_redelivered_and_loses_nothing(parley, seed):
    chat_id, admin, sockets = big_group(parley)
    replies = [sockets[admin].send(chat_id, f"to all {i}") for i in range(3)]
    assert all(reply["type"] == "sent" for reply in replies)
    # Some tasks fail before they push (their socket lookups fail past retries); one invocation dies whole.
    parley.faults.add("dynamodb", "raise", THROTTLED, operations={"BatchGetItem"}, probability=0.4,
                      match=on_table(parley.env["USERS_TABLE"]))
    stats = parley.drain(crash_invocations=1)
    assert stats["redelivered"] > 0 and parley.faults.fired() > 0, stats

    seqs = [reply["seq"] for reply in replies]
    for user, socket in sockets.items():
        if user == admin:
            continue
        got = [f["message"]["seq"] for f in socket.of_type("message") if f["message"]["chat_id"] == chat_id]
        assert sorted(got) == seqs, (user, got)  # each once: a task fails only before it pushes
    parley.assert_storage_sound(chat_id)


def test_an_sqs_redelivery_of_a_done_fan_out_task_stores_nothing_new(parley):
    chat_id, admin, sockets = big_group(parley, size=110)
    reply = sockets[admin].send(chat_id, "once")
    before = parley.stored(chat_id)
    messages = parley.sqs.receive_message(QueueUrl=parley.env["FANOUT_QUEUE_URL"], MaxNumberOfMessages=10)["Messages"]
    event = {"Records": [{"messageId": m["MessageId"], "receiptHandle": m["ReceiptHandle"], "body": m["Body"],
                          "attributes": {}, "messageAttributes": {}, "md5OfBody": m["MD5OfBody"],
                          "eventSource": "aws:sqs", "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:q",
                          "awsRegion": "us-east-1"} for m in messages]}
    for _ in range(2):  # SQS is at-least-once: the same task twice
        assert parley.client.lambda_.invoke("fan_out", event).payload == {"batchItemFailures": []}
    assert parley.stored(chat_id) == before
    for user, socket in sockets.items():
        if user != admin:
            pushed = [f["message"] for f in socket.of_type("message")]
            assert len(pushed) == 2 and pushed[0] == pushed[1] and pushed[0]["seq"] == reply["seq"]
            assert list(socket.view(chat_id)) == [reply["seq"]]  # once, after dedupe by seq


def test_a_fan_out_task_failing_after_its_pushes_does_not_push_twice(parley):
    chat_id, admin, sockets = big_group(parley, size=105)
    gone = next(s for user, s in sockets.items() if user != admin)
    parley.api.gone.add(gone.connection_id)
    parley.advance(HANDSHAKE_GRACE + 1)
    parley.faults.add("dynamodb", "raise", THROTTLED, operations={"DeleteItem"}, limit=1,
                      match=on_table(parley.env["CONNECTIONS_TABLE"]))
    sockets[admin].send(chat_id, "once")
    parley.drain()
    for user, socket in sockets.items():
        if user != admin and socket is not gone:
            assert len(socket.of_type("message")) == 1, user


@pytest.mark.parametrize("shape", ["direct", "big group"])
def test_a_resend_after_a_failed_fan_out_reaches_the_connected_members(parley, shape):
    if shape == "direct":
        alice, bob = parley.user("alice"), parley.user("bob")
        chat_id, sender = parley.direct(alice, bob), parley.connect(alice)
        members = [parley.connect(bob)]
        parley.faults.add("dynamodb", "raise", THROTTLED, operations={"BatchGetItem"}, nth=0,
                          match=on_table(parley.env["USERS_TABLE"]))
    else:
        chat_id, admin, sockets = big_group(parley, size=110)
        sender, members = sockets[admin], [s for user, s in sockets.items() if user != admin]
        parley.faults.add("sqs", "raise", SERVER_ERROR, operations={"SendMessageBatch"}, nth=0)
    first = sender.send(chat_id, "are you there", "cmid-1")
    parley.faults.clear()
    assert first["type"] == "error" and first["code"] == "internal"
    final = send_until_stored(parley, sender, chat_id, "are you there", "cmid-1")
    parley.drain()
    for socket in members:  # connected all along: they should not have to wait for the next message to see it
        assert final["seq"] in socket.messages(chat_id), socket.user_id


def uploaded(parley, socket, chat_id: str, data: bytes, content_type: str = "image/png") -> dict:
    slot = socket.call("upload", chat_id=chat_id, filename="pic.png", content_type=content_type, size=len(data))
    assert slot["type"] == "upload", slot
    parley.s3.put_object(Bucket=parley.env["MEDIA_BUCKET"], Key=slot["fields"]["key"], Body=data,
                         ContentType=content_type)
    return slot


@pytest.mark.parametrize("seed", SEEDS)
def test_duplicate_s3_events_and_a_crash_midway_settle_a_media_item_once(parley, seed):
    alice, bob = parley.user("alice"), parley.user("bob")
    chat_id = parley.direct(alice, bob)
    a, b = parley.connect(alice), parley.connect(bob)
    slot = uploaded(parley, a, chat_id, png())
    assert a.call("send", chat_id=chat_id, client_msg_id="pic", kind="image", media_id=slot["media_id"])["type"] \
        == "sent"
    queue = parley.env["MEDIA_EVENTS_QUEUE_URL"]
    for _ in range(2):  # S3 notifications are at-least-once: the same event comes again
        parley.sqs.send_message(QueueUrl=queue, MessageBody=s3_event(parley, slot["fields"]["key"]))
    # The first attempt dies storing a rendition, after it decoded the upload.
    parley.faults.add("s3", "raise", SERVER_ERROR, operations={"PutObject"}, nth=seed % 3)
    stats = parley.drain("MEDIA_EVENTS_QUEUE_URL", "process_media")
    assert stats["failed"] >= 1 and stats["records"] >= 3, stats  # 2 copies of the event, one redelivery
    again = parley.drain("MEDIA_EVENTS_QUEUE_URL", "process_media")  # and once more, later
    parley.sqs.send_message(QueueUrl=queue, MessageBody=s3_event(parley, slot["fields"]["key"]))
    parley.drain("MEDIA_EVENTS_QUEUE_URL", "process_media")

    media = a.call("media_url", media_id=slot["media_id"])["media"]
    assert media["status"] == "ready" and set(media["variants"]) == {"thumb", "small", "large"}, (media, again)
    told = [f for f in b.of_type("media") if f["media"]["media_id"] == slot["media_id"]]
    assert len(told) == 1, told  # settled once, told once
    assert len(media_objects(parley, slot["media_id"])) == 4  # original + 3 variants, each stored once
    with pytest.raises(parley.s3.exceptions.ClientError):  # the upload (with its metadata) is gone
        parley.s3.head_object(Bucket=parley.env["MEDIA_BUCKET"], Key=slot["fields"]["key"])


def test_a_lost_answer_to_the_settle_write_still_tells_the_chat(parley):
    alice, bob = parley.user("alice"), parley.user("bob")
    chat_id = parley.direct(alice, bob)
    a, b = parley.connect(alice), parley.connect(bob)
    slot = uploaded(parley, a, chat_id, png())
    parley.sqs.send_message(QueueUrl=parley.env["MEDIA_EVENTS_QUEUE_URL"],
                            MessageBody=s3_event(parley, slot["fields"]["key"]))
    parley.faults.add("dynamodb", "lost", SERVER_ERROR, operations={"PutItem"}, nth=0,
                      match=on_table(parley.env["MEDIA_TABLE"]))
    parley.drain("MEDIA_EVENTS_QUEUE_URL", "process_media")
    assert a.call("media_url", media_id=slot["media_id"])["media"]["status"] == "ready"
    assert len([f for f in b.of_type("media") if f["media"]["media_id"] == slot["media_id"]]) == 1
