"""The rate limits (typing's is in test_typing.py), on in-memory counters."""
from dataclasses import replace

import pytest

from chalicelib import clock
from chalicelib.config import rate_limits
from chalicelib.errors import RateLimited
from chalicelib.rate_limits import RateLimiter, RateLimits
from chalicelib.services import build
from tests.fakes import InMemoryCounters, RecordingNotifier, RecordingPusher, in_memory_stores

LIMITS = RateLimits()


@pytest.fixture
def now(monkeypatch) -> list[float]:
    moment = [1_700_000_000.0 // 60 * 60]  # the start of a window of every limit
    monkeypatch.setattr(clock, "now", lambda: moment[0])
    return moment


@pytest.fixture
def services(tmp_path, now):
    built = build(in_memory_stores(tmp_path), RecordingPusher(), tokens=None, accounts=None,
                  notifier=RecordingNotifier())
    for user in ("alice", "bob"):
        built.stores.users.register(user)
    built.messaging.create_direct("alice", "bob")
    return built


def send(services, sender: str, i: int) -> dict:
    return services.messaging.send(sender, "direct:alice:bob", f"m{i}", "text", f"hi {i}", None)


def test_sends_past_the_limit_are_refused_and_store_nothing_until_the_window_ends(services, now):
    for i in range(LIMITS.send.events):
        send(services, "alice", i)
    with pytest.raises(RateLimited) as refused:
        send(services, "alice", 999)
    assert "30 messages every 10 s" in refused.value.message
    assert services.stores.chats.get("direct:alice:bob").last_seq == LIMITS.send.events
    assert send(services, "bob", 0)["seq"] == LIMITS.send.events + 1  # each user has a count of their own
    now[0] += LIMITS.send.window
    assert send(services, "alice", 999)["seq"] == LIMITS.send.events + 2


def test_upload_slots_past_the_limit_are_refused(services):
    for i in range(LIMITS.upload.events):
        services.media.request_upload("alice", "direct:alice:bob", f"{i}.png", "image/png", 1000)
    with pytest.raises(RateLimited):
        services.media.request_upload("alice", "direct:alice:bob", "one-more.png", "image/png", 1000)


def test_a_container_that_saw_the_limit_answers_the_window_from_memory(now):
    counters = InMemoryCounters()
    limiter = RateLimiter(counters, RateLimits())
    for _ in range(LIMITS.send.events + 1):
        try:
            limiter.take("send", "alice")
        except RateLimited:
            pass
    asked = []
    counters.count = lambda *args: asked.append(args) or True
    for _ in range(100):
        with pytest.raises(RateLimited):
            limiter.take("send", "alice")
    assert asked == []  # a flood costs no DynamoDB writes once the container knows
    now[0] += LIMITS.send.window
    limiter.take("send", "alice")
    assert len(asked) == 1


def test_deployments_set_the_counts_from_the_environment():
    limits = rate_limits({"SEND_LIMIT": "100", "UPLOAD_LIMIT": ""})
    assert limits.send.events == 100 and limits.send.window == LIMITS.send.window
    assert limits.upload == LIMITS.upload and limits.typing == LIMITS.typing


def test_a_groups_own_send_limit_holds_whoever_sends(tmp_path, now):
    limits = replace(LIMITS, chat_send=replace(LIMITS.chat_send, events=3))
    built = build(in_memory_stores(tmp_path), RecordingPusher(), tokens=None, accounts=None,
                  notifier=RecordingNotifier(), rate_limits=limits)
    for user in ("alice", "bob", "carol"):
        built.stores.users.register(user)
    group = built.groups.create("alice", "g", ["bob", "carol"])[0].chat_id
    for i, sender in enumerate(("alice", "bob", "carol")):
        built.messaging.send(sender, group, f"m{i}", "text", "hi", None)
    with pytest.raises(RateLimited):
        built.messaging.send("alice", group, "one-more", "text", "hi", None)
    assert built.stores.chats.head(group).last_seq == 3
    now[0] += LIMITS.chat_send.window
    assert built.messaging.send("alice", group, "one-more", "text", "hi", None)["seq"] == 4  # the refused key


@pytest.mark.parametrize("action", ["receipt", "presence", "history", "sync", "heartbeat"])
def test_reads_and_heartbeats_are_limited_in_each_containers_memory(action, now):
    counters = InMemoryCounters()
    asked = []
    counters.count = lambda *args: asked.append(args) or True
    limiter = RateLimiter(counters, RateLimits())
    limit = getattr(LIMITS, action)
    for _ in range(limit.events):
        limiter.take(action, "alice")
    with pytest.raises(RateLimited):
        limiter.take(action, "alice")
    limiter.take(action, "bob")
    now[0] += limit.window
    limiter.take(action, "alice")
    assert asked == []  # no DynamoDB write: these frames cost no more than they did


def test_every_limit_is_set_from_its_environment_variable():
    limits = rate_limits({"CHAT_SEND_LIMIT": "500", "HEARTBEAT_LIMIT": "7"})
    assert limits.chat_send.events == 500 and limits.heartbeat.events == 7 and not limits.heartbeat.shared
