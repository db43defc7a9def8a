"""Fuzzing with hypothesis: frames and REST bodies of every shape never crash a handler nor get a 5xx.

Every frame gets a contract answer (`bad_request`, `forbidden`, ... — never `internal`), encodable as UTF-8 JSON
under 128 KiB, with its `req` echoed (a `req` over 64 characters is itself a `bad_request`, answered without
it); the socket answers a heartbeat afterwards. Every REST call answers
below 500, errors as `{"code", "message"}` with the status of their code.

CI runs a few hundred examples (derandomized, so the same ones every run); PARLEY_FUZZ_EXAMPLES=5000 runs
thousands, from a random start. Inputs that reach a known bug are left to the targeted tests at the end
(marked xfail until fixed), so that the fuzzers stay green and go on guarding everything else.
"""
import json
import os
import string
from collections import Counter
from urllib.parse import quote, urlencode

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from chalicelib.delivery import encode
from tests.reliability.conftest import CONTRACT_CODES, STATUS_OF, fuzz_examples
from tests.unit.conftest import World

MAX_SERVER_FRAME = 128 * 1024
MAX_REQ = 64  # characters
MAX_CLIENT_FRAME = 32 * 1024
LONG = "PARLEY_FUZZ_EXAMPLES" in os.environ
FUZZ = settings(deadline=None, database=None, derandomize=not LONG, print_blob=True,
                suppress_health_check=list(HealthCheck))

ANSWERS: Counter = Counter()  # what the fuzzers got back, printed at the end of each (pytest -s shows it)

ACTIONS = ["create_chat", "update_chat", "send", "hide", "history", "heartbeat", "presence", "typing", "receipt",
           "sync", "add_members", "remove_members", "leave", "upload", "media_url", "mute", "set_role",
           "create_invite", "join", "revoke_invite"]

# Values -------------------------------------------------------------------------------------------------

scalars = (st.none() | st.booleans() | st.integers() | st.integers(min_value=-2**70, max_value=2**70)
           | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=30))
json_values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4)
                           | st.dictionaries(st.text(max_size=8), inner, max_size=4), max_leaves=12)
huge_strings = st.tuples(st.sampled_from(["a", "é", "𝄞", "\u202e", "<", "\x00", " "]),
                         st.sampled_from([100, 4095, 4096, 4097, 9000, 33_000])).map(lambda t: t[0] * t[1])
strings = st.text(max_size=40) | huge_strings


def nested(depth: int, leaf=None):
    value = leaf
    for level in range(depth):
        value = [value] if level % 2 else {"k": value}
    return value


deep_values = st.integers(1, 150).map(nested)  # well below the recursion limit: deeper is a known bug below


class Pools:
    """Names a frame can point at: the caller's own chats and media, others', and ones that do not exist."""

    def __init__(self, chat_ids, user_ids, media_ids):
        self.chat_ids, self.user_ids, self.media_ids = chat_ids, user_ids, media_ids

    def chat(self):
        return st.sampled_from(self.chat_ids) | strings | json_values

    def user(self):
        return st.sampled_from(self.user_ids) | strings | json_values

    def media(self):
        return st.sampled_from(self.media_ids) | strings | json_values


def seqs():
    return st.integers(-3, 60) | st.integers() | json_values


def field_values(pools: Pools) -> dict:
    """Per field, a valid-looking value or a mistyped one."""
    return {
        "kind": st.sampled_from(["direct", "group", "text", "image", "video", "file", "system"]) | json_values,
        "user_id": pools.user(), "name": strings | json_values,
        "members": st.lists(pools.user(), max_size=6) | st.lists(st.sampled_from(pools.user_ids), min_size=490,
                                                                   max_size=520) | json_values,
        "user_ids": st.lists(pools.user(), max_size=6) | st.lists(st.text(max_size=3), min_size=95, max_size=110)
        | json_values,
        "chat_id": pools.chat(), "client_msg_id": strings | json_values, "text": strings | json_values,
        "media_id": pools.media(), "reply_to": seqs(), "before": seqs(), "limit": seqs(), "seq": seqs(),
        "status": st.sampled_from(["delivered", "read", "seen"]) | json_values,
        "state": st.sampled_from(["start", "stop", "pause"]) | json_values,
        "cursors": st.dictionaries(pools.chat().filter(lambda v: isinstance(v, str)), seqs(), max_size=4)
        | json_values,
        "filename": strings | json_values,
        "content_type": st.sampled_from(["image/png", "image/jpeg", "video/mp4", "application/pdf", "text/html",
                                         "x", "image/png; charset=utf-8"]) | strings | json_values,
        "size": st.integers(-1, 2**40) | json_values,
        "relates_to": seqs(), "emoji": st.sampled_from(["👍", "", "ab", "🎉" * 9, "👨‍👩‍👧‍👦"]) | strings | json_values,
        "forward_of": st.fixed_dictionaries({"chat_id": pools.chat(), "seq": seqs()}) | json_values,
        "mentions": st.lists(pools.user(), max_size=6) | json_values,
        "seqs": st.lists(seqs(), max_size=5) | json_values,
        "since": st.sampled_from(["", "0", "1800000000", "yesterday"]) | strings | json_values,
        "page": strings | json_values, "quiet": st.booleans() | json_values,
        "disappear_after": st.sampled_from([86400, 604800, 7776000, None, 60, 0]) | json_values,
        "until": st.sampled_from(["2099-01-01T00:00:00Z", "2001-01-01T00:00:00Z", "9999-12-31T23:59:59-01:00",
                                  "tomorrow", None]) | strings | json_values,
        "role": st.sampled_from(["admin", "member", "owner"]) | json_values,
        "expires_in": st.integers(-1, 10**7) | json_values, "token": strings | json_values,
        "description": strings | json_values, "avatar_media_id": pools.media(),
        "settings": st.fixed_dictionaries({}, optional={"send": st.sampled_from(["all", "admins", "x"]) | json_values,
                                                        "edit_info": st.sampled_from(["all", "admins"])})
        | json_values,
        "extra": json_values | deep_values,
    }


short_reqs = st.text(max_size=40)
reqs = st.one_of(st.none(), short_reqs, short_reqs, short_reqs, scalars)  # long or non-UTF-8: targeted tests


def mostly(valid):
    """Nine times in ten the valid strategy, else any JSON value (a mistyped field)."""
    return st.one_of(*[valid] * 9, json_values)


def valid_fields(pools: Pools) -> dict:
    ids = st.sampled_from(pools.user_ids)
    return {
        "chat_id": st.sampled_from(pools.chat_ids), "client_msg_id": st.text(min_size=1, max_size=64),
        "text": st.text(min_size=1, max_size=200) | huge_strings, "media_id": st.sampled_from(pools.media_ids),
        "reply_to": st.integers(0, 12), "before": st.integers(0, 12), "seq": st.integers(0, 12),
        "limit": st.integers(0, 501), "status": st.sampled_from(["delivered", "read"]),
        "state": st.sampled_from(["start", "stop"]), "user_id": ids, "name": st.text(min_size=1, max_size=101),
        "members": st.lists(ids, max_size=5), "user_ids": st.lists(ids, min_size=1, max_size=5),
        "cursors": st.dictionaries(st.sampled_from(pools.chat_ids), st.integers(0, 12), max_size=4),
        "filename": st.text(min_size=1, max_size=255) | st.sampled_from(["../../etc/passwd", "a\u202egnp.exe",
                                                                          'q"uote.txt', "\x00.png"]),
        "content_type": st.sampled_from(["image/png", "image/jpeg", "video/mp4", "application/pdf", "text/html",
                                         "x", "image/png; charset=utf-8", "IMAGE/PNG"]),
        "size": st.integers(1, 2**28),
        "relates_to": st.integers(0, 12), "emoji": st.sampled_from(["👍", "🎉", "", "ab"]),
        "forward_of": st.fixed_dictionaries({"chat_id": st.sampled_from(pools.chat_ids), "seq": st.integers(0, 12)}),
        "mentions": st.lists(ids, max_size=3), "seqs": st.lists(st.integers(0, 12), min_size=1, max_size=5),
        "since": st.sampled_from(["", "1800000000"]), "page": st.text(min_size=1, max_size=40),
        "quiet": st.booleans(), "disappear_after": st.sampled_from([86400, 604800, 7776000, None]),
        "until": st.sampled_from(["2099-01-01T00:00:00Z", None]), "role": st.sampled_from(["admin", "member"]),
        "expires_in": st.integers(60, 604800), "token": st.text(min_size=1, max_size=30),
        "description": st.text(max_size=512) | st.none(), "avatar_media_id": st.sampled_from(pools.media_ids),
        "settings": st.fixed_dictionaries({}, optional={"send": st.sampled_from(["all", "admins"]),
                                                        "edit_info": st.sampled_from(["all", "admins"])}),
    }


SCHEMA = {  # action -> (required fields, optional fields), as the contract lists them
    "create_chat": (["kind"], ["user_id", "name", "members"]),
    "send": (["chat_id", "client_msg_id", "kind"], ["text", "media_id", "reply_to", "relates_to", "emoji",
                                                    "forward_of", "mentions"]),
    "hide": (["chat_id", "seqs"], []),
    "update_chat": (["chat_id"], ["disappear_after", "name", "description", "avatar_media_id", "settings"]),
    "mute": (["chat_id", "until"], []), "set_role": (["chat_id", "user_id", "role"], []),
    "create_invite": (["chat_id"], ["expires_in"]), "join": (["token"], []),
    "revoke_invite": (["chat_id", "token"], []),
    "history": (["chat_id"], ["before", "limit"]), "heartbeat": ([], ["quiet"]), "presence": (["user_ids"], []),
    "typing": (["chat_id", "state"], []), "receipt": (["chat_id", "seq", "status"], []),
    "sync": ([], ["cursors", "limit", "since", "page"]), "add_members": (["chat_id", "user_ids"], []),
    "remove_members": (["chat_id", "user_ids"], []), "leave": (["chat_id"], []),
    "upload": (["chat_id", "filename", "content_type", "size"], []), "media_url": (["media_id"], []),
}
KINDS = {"create_chat": st.sampled_from(["direct", "group"]),
         "send": st.sampled_from(["text", "image", "video", "file", "edit", "delete", "reaction"])}


def allowed_frames(pools: Pools, action: str):
    """Frames of one action as the contract allows them (fields valid; values may still point anywhere)."""
    required, optional = SCHEMA[action]
    valid = valid_fields(pools)
    valid_here = {**valid, **({"kind": KINDS[action]} if action in KINDS else {})}
    return st.builds(lambda req, body: {"action": action, **({"req": req} if req is not None else {}), **body},
                     st.none() | short_reqs, st.fixed_dictionaries(
                         {name: valid_here[name] for name in required},
                         optional={name: valid_here[name] for name in optional} | {"extra": json_values}))


def mistyped(frames_strategy, pools: Pools):
    """A frame with one field (or `req`, or `action`) replaced by any JSON value."""
    return st.builds(lambda frame, name, value: {**frame, name: value}, frames_strategy,
                     st.sampled_from(["req", "action", *field_values(pools)]), json_values | huge_strings | deep_values)


def frames(pools: Pools):
    """Mostly frames the contract allows (to reach the logic behind validation), some with one field mistyped,
    and the rest anything at all: random dicts, JSON that is no object, text, bytes, deep nesting, oversize."""
    fields = field_values(pools)
    allowed = st.one_of(*(allowed_frames(pools, action) for action in SCHEMA))
    wrong = mistyped(allowed, pools)
    anything = st.builds(
        lambda action, req, chosen: {"action": action, **({"req": req} if req is not None else {}), **chosen},
        st.sampled_from(ACTIONS) | st.text(max_size=12) | json_values, reqs,
        st.fixed_dictionaries({}, optional=fields))
    random_dicts = st.dictionaries(st.sampled_from(ACTIONS + ["action", "req"]) | st.text(max_size=10),
                                   json_values | deep_values, max_size=6)
    others = (random_dicts.map(json.dumps) | json_values.map(json.dumps) | deep_values.map(json.dumps)
              | st.text(max_size=60) | st.binary(max_size=60)
              | st.builds(lambda frame, pad: json.dumps({**frame, "pad": "x" * pad}), allowed,
                          st.sampled_from([32 * 1024, 40_000])))
    return st.one_of(*[allowed.map(json.dumps)] * 4, wrong.map(json.dumps), wrong.map(json.dumps),
                     anything.map(json.dumps), others)


def request_of(raw) -> str | None:
    try:
        body = json.loads(raw)
    except (ValueError, TypeError):
        return None
    return body.get("req") if isinstance(body, dict) and isinstance(body.get("req"), str) else None


def field_of(raw, name: str):
    try:
        body = json.loads(raw)
    except (ValueError, TypeError):
        return None
    return body.get(name) if isinstance(body, dict) else None


def action_of(raw):
    return field_of(raw, "action")


def check_answers(raw, got: list[dict]) -> None:
    """The contract's answer to one frame, whatever the frame."""
    req = request_of(raw)
    for frame in got:
        data = encode(frame)  # what @connections is given: UTF-8 JSON
        assert len(data) <= MAX_SERVER_FRAME, f"a server frame of {len(data)} bytes"
        if frame.get("type") == "error":
            assert frame["code"] in CONTRACT_CODES - {"internal"}, frame
            assert isinstance(frame.get("message"), str), frame
    if req is not None and len(req) > MAX_REQ:  # the frame's error, `too_large` first, answered without `req`
        size = len(raw.encode() if isinstance(raw, str) else raw)
        expected = "too_large" if size > MAX_CLIENT_FRAME else "bad_request"
        assert [frame.get("code") for frame in got if frame.get("type") == "error" and "req" not in frame] \
            == [expected], got
        ANSWERS["bad_request (req too long)"] += 1
        return
    replies = [frame for frame in got if req is None or frame.get("req") == req]
    errors = [frame for frame in replies if frame.get("type") == "error"]
    if action_of(raw) == "typing" and not errors:
        ANSWERS["typing relayed"] += 1
        return  # a typing frame that is fine gets no reply
    if action_of(raw) == "heartbeat" and field_of(raw, "quiet") is True and not errors:
        ANSWERS["quiet heartbeat"] += 1
        return  # nor does a quiet heartbeat
    assert replies, f"no reply to {str(raw)[:200]!r}"
    ANSWERS[errors[0]["code"] if errors else replies[-1]["type"]] += 1
    assert len(errors) <= 1, errors


# On the in-memory twins: fast, many examples ------------------------------------------------------------

@pytest.fixture(scope="module")
def fake_world(tmp_path_factory):
    """ann's socket on the in-memory twins; set up through frames only (the wire contract, not internals)."""
    from chalicelib.socket_api import SocketApi
    world = World(tmp_path_factory.mktemp("fuzz"))
    world.users("ann", "ben", "eve")
    api = SocketApi(world.services, "us-east-1")
    ann, eve = world.connect("ann"), world.connect("eve")

    def call(connection_id: str, **frame) -> dict:
        api.receive(connection_id, json.dumps({**frame, "req": "setup"}), "api", "test")
        reply = [f for f in world.pusher.frames[connection_id] if f.get("req") == "setup"][-1]
        assert reply["type"] != "error", reply
        return reply

    direct_id = call(ann, action="create_chat", kind="direct", user_id="ben")["chat"]["chat_id"]
    group_id = call(ann, action="create_chat", kind="group", name="team", members=["ben"])["chat"]["chat_id"]
    eve_id = call(eve, action="create_chat", kind="direct", user_id="ben")["chat"]["chat_id"]
    call(ann, action="send", chat_id=direct_id, client_msg_id="1", kind="text", text="hello")
    call(eve, action="send", chat_id=eve_id, client_msg_id="1", kind="text", text="secret")
    own = call(ann, action="upload", chat_id=direct_id, filename="a.png", content_type="image/png", size=10)
    others = call(eve, action="upload", chat_id=eve_id, filename="b.png", content_type="image/png", size=10)
    pools = Pools([direct_id, group_id, eve_id, "group:nope", "direct:ann:zed"], ["ann", "ben", "eve", "zed", "ANN"],
                  [own["media_id"], others["media_id"], "nope"])
    return world, api, ann, pools


def test_socket_frames_on_the_in_memory_twins(fake_world):
    world, api, connection_id, pools = fake_world

    @settings(FUZZ, max_examples=fuzz_examples(400))
    @given(raw=frames(pools))
    @example(raw='{"action": "send", "req": "x", "chat_id": "nope"}')
    @example(raw=b"\xff\xfe")
    @example(raw="")
    @example(raw="null")
    @example(raw='{"action": "sync", "cursors": {"a": 1e400}}')
    @example(raw='{"action": "history", "chat_id": "x", "limit": ' + "9" * 5000 + "}")
    def check(raw):
        frames_before = len(world.pusher.frames.get(connection_id, []))
        api.receive(connection_id, raw, "api", "test")
        got = world.pusher.frames.get(connection_id, [])[frames_before:]
        check_answers(raw, got)
        api.receive(connection_id, '{"action": "heartbeat", "req": "alive?"}', "api", "test")
        assert world.pusher.frames[connection_id][-1]["type"] == "pong"

    ANSWERS.clear()
    check()
    print("answers:", dict(ANSWERS))


# On moto, through the Lambda handlers and the real @connections pusher ------------------------------------

@pytest.fixture
def moto_pools(parley):
    ann, ben, eve = parley.user("ann"), parley.user("ben"), parley.user("eve")
    direct, group, eve_chat = parley.direct(ann, ben), parley.group(ann, [ben]), parley.direct(eve, ben)
    socket = parley.connect(ann)
    socket.send(direct, "hello")
    own = socket.call("upload", chat_id=direct, filename="a.png", content_type="image/png", size=10)["media_id"]
    return socket, Pools([direct, group, eve_chat, "group:nope"], [ann, ben, eve, "zed"], [own, "nope"])


def test_socket_frames_through_the_handlers_on_moto(parley, moto_pools):
    socket, pools = moto_pools

    @settings(FUZZ, max_examples=fuzz_examples(80))
    @given(raw=frames(pools))
    def check(raw):
        got = socket.raw(raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw)
        check_answers(raw, got)
        assert socket.call("heartbeat")["type"] == "pong"

    ANSWERS.clear()
    check()
    print("answers:", dict(ANSWERS))


# REST on moto -----------------------------------------------------------------------------------------

def path_segment():
    return (st.text(min_size=1, max_size=30) | st.text(alphabet=string.ascii_lowercase + ":-_", min_size=1,
                                                         max_size=210)).map(lambda s: quote(s, safe=""))


ascii_text = st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=12)


def rest_calls(pools: Pools, token: str):
    def body(action: str | None):
        if action is None:
            allowed = st.fixed_dictionaries({}, optional={"username": st.text(min_size=3, max_size=33) | strings,
                                                          "password": st.text(max_size=20) | strings,
                                                          "refresh_token": strings})
        else:  # the body of the WebSocket action the route mirrors (REST ignores `action` and `req`)
            allowed = allowed_frames(pools, action)
        either = allowed.map(json.dumps) | mistyped(allowed, pools).map(json.dumps)
        return st.one_of(either, either, either, json_values.map(json.dumps), st.text(max_size=40),
                         deep_values.map(json.dumps))

    chat = st.sampled_from(pools.chat_ids).map(lambda c: quote(c, safe="")) | path_segment()
    query = st.dictionaries(st.sampled_from(["before", "limit", "x"]), ascii_text | st.integers(-2, 200).map(str),
                            max_size=3)
    good, bad = [f"Bearer {token}", token, f"bearer  {token} "], ["", "Bearer", "Basic abc", f"Bearer {token}x"]
    auth = st.integers(0, 9).flatmap(lambda dice: st.sampled_from(good) if dice < 7 else st.sampled_from(bad)
                                     if dice < 9 else st.text(max_size=30))
    routes = st.one_of(
        st.tuples(st.just("POST"), st.sampled_from(["/auth/signup", "/auth/login", "/auth/refresh"]), body(None)),
        st.tuples(st.just("POST"), st.just("/chats"), body("create_chat")),
        st.tuples(st.just("POST"), st.just("/media"), body("upload")),
        st.tuples(st.just("POST"), st.just("/presence"), body("presence")),
        st.tuples(st.just("GET"), st.sampled_from(["/me", "/chats", "/health"]), st.none()),
        st.tuples(st.just("GET"), st.builds(lambda c, q: f"/chats/{c}/messages" + (f"?{urlencode(q)}" if q else ""),
                                            chat, query), st.none()),
        st.tuples(st.just("GET"), st.builds(lambda c, tail: f"/chats/{c}{tail}", chat,
                                            st.sampled_from(["", "/receipts"])), st.none()),
        st.tuples(st.just("POST"), chat.map(lambda c: f"/chats/{c}/members"), body("add_members")),
        st.tuples(st.just("DELETE"), st.builds(lambda c, u: f"/chats/{c}/members/{u}", chat,
                                               st.sampled_from(pools.user_ids) | path_segment()), st.none()),
        st.tuples(st.just("GET"), (st.sampled_from(pools.media_ids) | path_segment()).map(lambda m: f"/media/{m}"),
                  st.none()),
    )
    return st.tuples(routes, auth)


def test_rest_bodies_paths_and_queries_on_moto(parley, moto_pools):
    socket, pools = moto_pools
    token = parley.token_for(socket.user_id)

    @settings(FUZZ, max_examples=fuzz_examples(150))
    @given(call=rest_calls(pools, token))
    @example(call=(("GET", "/chats/x/messages?limit=0&before=-1", None), f"Bearer {token}"))
    @example(call=(("POST", "/chats", "[1, 2]"), f"Bearer {token}"))
    @example(call=(("POST", "/auth/signup", '{"username": "Ab", "password": 1}'), ""))
    def check(call):
        (method, path, body), authorization = call
        headers = {"Authorization": authorization} if authorization else {}
        status, payload = parley.rest(method, path, raw=body, headers=headers)
        ANSWERS[f"{method} {path.split('/')[1]} {status}"] += 1
        assert status < 500, (status, payload)
        if status >= 400:
            assert isinstance(payload, dict) and set(payload) == {"code", "message"}, payload
            assert payload["code"] in CONTRACT_CODES and STATUS_OF[payload["code"]] == status, (status, payload)

    ANSWERS.clear()
    check()
    print("answers:", dict(ANSWERS))


# Known bugs, one input each ----------------------------------------------------------------------------

def test_deeply_nested_json_is_a_bad_request(parley):
    user_id = parley.user("deep")
    socket = parley.connect(user_id)
    deep = "[" * 5000 + "]" * 5000
    (reply,) = socket.raw('{"action": "heartbeat", "req": "d", "x": ' + deep + "}")
    assert reply["type"] == "pong" or reply.get("code") == "bad_request", reply
    status, payload = parley.rest("POST", "/chats", raw=deep, token=parley.token_for(user_id))
    assert status == 400, (status, payload)


def test_a_lone_surrogate_gets_a_contract_error_on_both_apis(parley):
    user_id = parley.user("surrogate")
    socket = parley.connect(user_id)
    got = socket.raw('{"action": "heartbeat", "req": "\\ud800"}')
    assert len(got) == 1 and got[0]["type"] in ("pong", "error"), got
    status, payload = parley.rest("POST", "/chats", raw='{"kind": "group", "name": "\\udfff", "members": []}',
                                  token=parley.token_for(user_id))
    assert status == 400 and "surrogate" in payload["message"], (status, payload)


def test_a_long_req_never_pushes_a_reply_past_128_kib(parley):
    alice = parley.user("alice")
    chat_id = parley.direct(alice, parley.user("bob"))
    socket = parley.connect(alice)
    for i in range(35):
        socket.send(chat_id, f"{i:04d}" + "x" * 4000)
    for action, params in (("sync", {"cursors": {chat_id: 0}}), ("history", {"chat_id": chat_id, "limit": 100})):
        req = "r" * 30_000
        got = socket.raw(json.dumps({"action": action, "req": req, **params}))
        assert got and got[-1]["type"] in ("synced", "history", "error"), (action, len(got))
    assert parley.api.too_large == []


def test_a_unicode_digit_in_a_query_is_a_bad_request(parley):
    user_id = parley.user("digits")
    chat_id = parley.direct(user_id, parley.user("peer"))
    status, payload = parley.rest("GET", f"/chats/{chat_id}/messages?limit=%C2%B2", token=parley.token_for(user_id))
    assert status == 400, (status, payload)
