"""The user-facing protocol docs (docs/protocol.md, docs/asyncapi.yaml) cover the whole contract and the code.

No network: the AsyncAPI file is checked for its structure and internal references here, not against the
published AsyncAPI schema.
"""
import re
import typing
from functools import cache
from pathlib import Path

import pytest
import yaml
from pydantic import BaseModel

from chalicelib import errors, frames

ROOT = Path(__file__).resolve().parents[2]
ASYNCAPI = ROOT / "docs" / "asyncapi.yaml"
PROTOCOL_DOC = ROOT / "docs" / "protocol.md"
# The shared wire contract lives beside the repository (shared/ next to the clone), when it is there.
CONTRACT = ROOT.parent / "shared" / "PROTOCOL.md"

CONTRACT_ACTIONS = {"create_chat", "send", "receipt", "sync", "history", "add_members", "remove_members", "leave",
                    "typing", "heartbeat", "presence", "upload", "media_url"}
SERVER_FRAMES = {"chat", "sent", "message", "ok", "receipt", "messages", "synced", "history", "typing", "pong",
                 "presence", "upload", "media", "error", "invite", "profile"}
OBJECT_SCHEMAS = {"Message", "Chat", "Member", "Media", "Error"}


@cache
def asyncapi() -> dict:
    return yaml.safe_load(ASYNCAPI.read_text(encoding="utf-8"))


@cache
def protocol_doc() -> str:
    return PROTOCOL_DOC.read_text(encoding="utf-8")


def resolve(pointer: str):
    """The node a local `$ref` ("#/a/b") points at in the AsyncAPI document; KeyError if there is none."""
    assert pointer.startswith("#/"), f"{pointer!r} is not a reference inside the document"
    node = asyncapi()
    for part in pointer[2:].split("/"):
        part = part.replace("~1", "/").replace("~0", "~")
        node = node[int(part)] if isinstance(node, list) else node[part]
    return node


def deref(node):
    while isinstance(node, dict) and "$ref" in node:
        node = resolve(node["$ref"])
    return node


def refs(node, path="#"):
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield path, value
            else:
                yield from refs(value, f"{path}/{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from refs(value, f"{path}/{index}")


def operation_payloads(operation: str) -> dict[str, dict]:
    """The payload schemas of an operation's messages, by the const of their `action` (send) or `type` field."""
    field = "action" if operation == "send" else "type"
    found = {}
    for reference in asyncapi()["operations"][operation]["messages"]:
        payload = deref(deref(reference)["payload"])
        found.setdefault(deref(payload["properties"][field])["const"], []).append(payload)
    return found


def documented_sections() -> set[str]:
    return {match.group(1) for match in re.finditer(r"^#{2,4} `?([a-z_]+)`?\s*$", protocol_doc(), re.MULTILINE)}


def contract_actions() -> set[str]:
    """The actions of the shared contract's actions table."""
    text = CONTRACT.read_text(encoding="utf-8")
    table = text.split("## Actions", 1)[1].split("\n## ", 1)[0]
    names = set()
    for line in table.splitlines():
        cells = line.split("|")
        if len(cells) > 2 and line.startswith("| `"):
            names.update(re.findall(r"`([a-z_]+)`", cells[1]))
    return names


def frame_models(annotation) -> set[type]:
    """The pydantic models inside a type annotation (Annotated, Union, X | Y, nested)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return {annotation}
    return {model for argument in typing.get_args(annotation) for model in frame_models(argument)}


def accepted_actions() -> set[str]:
    """Every `action` value that chalicelib.frames accepts: its ClientFrame union and any model with an action."""
    models = frame_models(frames.ClientFrame) | {
        value for value in vars(frames).values()
        if isinstance(value, type) and issubclass(value, BaseModel) and "action" in value.model_fields}
    assert models, "chalicelib.frames has no frame models"
    actions = set()
    for model in models:
        annotation = model.model_fields["action"].annotation
        assert typing.get_origin(annotation) is typing.Literal, f"{model.__name__}.action is not a Literal"
        actions.update(typing.get_args(annotation))
    return actions


def test_the_asyncapi_file_is_asyncapi_3():
    document = asyncapi()
    assert document["asyncapi"] == "3.0.0"
    assert {"title", "version"} <= document["info"].keys()
    assert {"local", "aws"} <= document["servers"].keys()
    local, aws = document["servers"]["local"], document["servers"]["aws"]
    assert (local["protocol"], local["host"], local["pathname"]) == ("ws", "127.0.0.1:8000", "/ws")
    assert aws["protocol"] == "wss" and aws["pathname"] == "/api"
    assert set(re.findall(r"{(\w+)}", aws["host"])) == set(aws["variables"]) == {"apiId", "region"}


def test_every_ref_resolves_inside_the_document():
    found = list(refs(asyncapi()))
    assert len(found) > 50
    for where, pointer in found:
        try:
            resolve(pointer)
        except (KeyError, IndexError, ValueError, AssertionError, TypeError):
            pytest.fail(f"{where}: $ref {pointer!r} does not resolve")


def test_the_channel_and_operations_fit_together():
    document = asyncapi()
    assert list(document["channels"]) == ["socket"]
    channel = document["channels"]["socket"]
    query = channel["bindings"]["ws"]["query"]
    assert query["required"] == ["token"] and {"token", "device"} <= query["properties"].keys()
    assert query["properties"]["device"]["maxLength"] == 64
    assert document["operations"].keys() == {"send", "receive"}
    assert document["operations"]["send"]["action"] == "send"
    assert document["operations"]["receive"]["action"] == "receive"
    used = set()
    for operation in document["operations"].values():
        assert operation["channel"] == {"$ref": "#/channels/socket"}
        for reference in operation["messages"]:
            assert reference["$ref"].startswith("#/channels/socket/messages/"), reference
            used.add(reference["$ref"].rsplit("/", 1)[1])
    assert used == channel["messages"].keys(), "every channel message belongs to exactly one operation"


def test_the_objects_and_every_frame_have_schemas():
    schemas = asyncapi()["components"]["schemas"]
    assert OBJECT_SCHEMAS <= schemas.keys()
    assert set(operation_payloads("receive")) == SERVER_FRAMES
    codes = set(deref(schemas["Error"]["properties"]["code"])["enum"])
    assert codes == {cls.code for cls in vars(errors).values()
                     if isinstance(cls, type) and issubclass(cls, errors.ParleyError)} | {"internal"}
    assert codes == {"bad_request", "unauthorized", "forbidden", "not_found", "too_large", "rate_limited",
                     "conflict", "internal"}


@pytest.mark.parametrize("action", sorted(CONTRACT_ACTIONS))
def test_every_contract_action_is_documented(action):
    assert action in operation_payloads("send"), f"no AsyncAPI message for {action!r}"
    assert action in documented_sections(), f"no section for {action!r} in docs/protocol.md"


def test_the_action_list_matches_the_shared_contract():
    if not CONTRACT.is_file():
        pytest.skip("shared/PROTOCOL.md is not beside the repository")
    assert CONTRACT_ACTIONS <= contract_actions()
    missing = contract_actions() - set(operation_payloads("send"))
    assert not missing, f"actions of PROTOCOL.md missing from docs/asyncapi.yaml: {sorted(missing)}"
    assert not contract_actions() - documented_sections()


def test_every_action_the_server_accepts_is_documented():
    accepted = accepted_actions()
    assert {"send", "sync", "heartbeat"} <= accepted
    assert not accepted - set(operation_payloads("send")), "actions of chalicelib.frames missing from asyncapi"
    assert not accepted - documented_sections(), "actions of chalicelib.frames missing from docs/protocol.md"


def test_the_protocol_doc_covers_the_contract():
    text = protocol_doc()
    for code in ("bad_request", "unauthorized", "forbidden", "not_found", "too_large", "rate_limited",
                 "conflict", "internal"):
        assert f"`{code}`" in text
    for frame in SERVER_FRAMES:
        assert f'"type": "{frame}"' in text, f"no example of a {frame!r} frame"
    for route in ("/api/me", "/api/chats", "/api/chats/{id}/messages", "/api/chats/{id}/receipts",
                  "/api/chats/{id}/members", "/api/media", "/api/media/{media_id}", "/api/presence",
                  "/api/auth/signup", "/api/auth/login", "/api/auth/refresh", "/api/health"):
        assert route in text, route


def message_examples():
    for key, message in asyncapi()["components"]["messages"].items():
        for example in message.get("examples", []):
            yield pytest.param(key, example["payload"], id=f"{key}:{example.get('name', '')}")


@pytest.mark.parametrize("key, payload", list(message_examples()))
def test_examples_match_their_schemas(key, payload):
    jsonschema = pytest.importorskip("jsonschema")
    # Validate through a $ref into the whole document, so the payload's own $refs resolve.
    schema = {**asyncapi(), "$ref": f"#/components/messages/{key}/payload"}
    jsonschema.Draft7Validator(schema).validate(payload)
    if key.startswith("client.") and payload["action"] in accepted_actions():
        frames.parse(payload)  # and the server's own validation accepts the documented frame
