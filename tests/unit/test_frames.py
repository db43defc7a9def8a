import json

import pytest

from chalicelib import frames
from chalicelib.errors import BadRequest, TooLarge


@pytest.mark.parametrize("raw", ["", "nope", "[]", "3", '"x"', "null"])
def test_non_objects_are_bad_requests(raw):
    with pytest.raises(BadRequest):
        frames.decode(raw)


@pytest.mark.parametrize("body, fragment", [
    ({}, "needs an 'action'"),
    ({"action": "fly"}, "unknown action 'fly'"),
    ({"action": "send", "chat_id": "c", "client_msg_id": "", "kind": "text"}, "client_msg_id"),
    ({"action": "send", "chat_id": "c", "client_msg_id": "k", "kind": "gif"}, "kind"),
    ({"action": "history", "chat_id": "c", "limit": "5"}, "limit"),
    ({"action": "history", "chat_id": "c", "before": 0}, "before"),
])
def test_shape_errors_name_the_field(body, fragment):
    with pytest.raises(BadRequest) as error:
        frames.parse(body)
    assert fragment in error.value.message


def test_unknown_fields_are_ignored_and_req_is_kept():
    frame = frames.parse({"action": "heartbeat", "req": "7", "extra": [1]})
    assert isinstance(frame, frames.Heartbeat) and frame.req == "7"
    assert frames.request_id({"req": 7}) is None


def test_frames_over_32_kib_are_too_large_even_when_not_json():
    with pytest.raises(TooLarge):
        frames.check_size(json.dumps({"action": "heartbeat", "pad": "x" * 33_000}))
    with pytest.raises(TooLarge):
        frames.decode("x" * 33_000)


def test_a_req_past_64_characters_is_refused_and_never_echoed():
    long_req = "r" * (frames.MAX_REQ + 1)
    assert frames.request_id({"req": long_req}) is None
    with pytest.raises(BadRequest) as error:
        frames.parse({"action": "heartbeat", "req": long_req})
    assert "req" in error.value.message


@pytest.mark.parametrize("raw", ['{"action": "heartbeat", "req": "\\ud800"}', b'{"text": "a\\udfff b"}'])
def test_lone_surrogates_are_bad_requests(raw):
    with pytest.raises(BadRequest) as error:
        frames.decode(raw)
    assert "surrogate" in error.value.message


def test_escaped_pairs_and_plain_unicode_decode():
    assert frames.decode('{"text": "\\ud83d\\ude00 h\\u00e9 \u00e9"}') == {"text": "\U0001F600 h\u00e9 \u00e9"}
