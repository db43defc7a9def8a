"""The ``parley`` command, run in a thread against the fake server (its own event loop)."""

import asyncio
import json
import signal
import stat
import sys
from pathlib import Path

import pytest

from fake_server import PASSWORD
from parley_sdk.cli import ProgressBar, main


@pytest.fixture
def config_file(tmp_path, monkeypatch):
    path = tmp_path / "parley.json"
    monkeypatch.setenv("PARLEY_CONFIG", str(path))
    return path


async def parley(*argv: str) -> int:
    return await asyncio.to_thread(main, list(argv))


async def log_in(server, user_id="alice") -> int:
    return await parley(
        "login", user_id, "--password", PASSWORD, "--rest-url", server.rest_url, "--ws-url", server.ws_url
    )


async def test_login_keeps_the_urls_and_tokens_private(server, config_file, capsys):
    assert await log_in(server) == 0
    assert "logged in as alice" in capsys.readouterr().out
    config = json.loads(config_file.read_text())
    assert (config["rest_url"], config["ws_url"], config["tokens"]["user_id"]) == (
        server.rest_url,
        server.ws_url,
        "alice",
    )
    assert stat.S_IMODE(config_file.stat().st_mode) == 0o600


async def test_signup_creates_the_account_and_logs_in(server, config_file, capsys):
    argv = ("--password", PASSWORD, "--rest-url", server.rest_url, "--ws-url", server.ws_url)
    assert await parley("signup", "carol", *argv) == 0
    assert server.passwords["carol"] == PASSWORD
    assert json.loads(config_file.read_text())["tokens"]["user_id"] == "carol"
    assert await parley("signup", "carol", *argv) == 1
    assert "conflict" in capsys.readouterr().err


async def test_commands_need_a_login(server, config_file, capsys):
    assert await parley("chats") == 2
    assert "parley login" in capsys.readouterr().err


async def test_send_to_a_user_then_list_chats(server, config_file, capsys):
    await log_in(server)
    assert await parley("send", "--to", "bob", "hello bob") == 0
    assert await parley("send", "alice-bob", "again") == 0
    assert [message["text"] for message in server.chats["alice-bob"]["messages"]] == ["hello bob", "again"]
    assert await parley("chats") == 0
    assert "alice-bob\tdirect\talice, bob\t2 messages" in capsys.readouterr().out
    assert await parley("send", "hello nobody") == 2


async def test_upload_sends_the_file_as_a_message(server, config_file, tmp_path, capsys):
    await log_in(server)
    chat_id = server.create_direct("alice", "bob")
    photo = tmp_path / "photo.jpg"
    photo.write_bytes(b"\xff\xd8\xff" + bytes(200_000))
    assert await parley("upload", chat_id, str(photo)) == 0
    [upload] = server.uploads
    assert (upload["filename"], upload["content_type"]) == ("photo.jpg", "image/jpeg")
    [message] = server.chats[chat_id]["messages"]
    assert message["kind"] == "image"
    assert "100%" in capsys.readouterr().err


def test_progress_bar(capsys):
    bar = ProgressBar(sys.stderr)
    bar(500_000, 2_000_000)
    bar(2_000_000, 2_000_000)
    bar.finish()
    drawn = capsys.readouterr().err.split("\r")
    assert drawn[1] == "[#######.......................]  25%  0.5 of 2.0 MB"
    assert drawn[2] == "[##############################] 100%  2.0 of 2.0 MB\n"


async def test_tail_shows_the_last_lines_then_live_messages_until_interrupted(server, config_file):
    await log_in(server)
    chat_id = server.create_direct("alice", "bob")
    for n in range(1, 13):
        await server.store(chat_id, "bob", f"message {n}", push=False)
    tail = await asyncio.create_subprocess_exec(
        Path(sys.executable).parent / "parley", "tail", chat_id, "-n", "2", stdout=asyncio.subprocess.PIPE
    )
    async with asyncio.timeout(10):
        lines = [await tail.stdout.readline(), await tail.stdout.readline()]
        await server.store(chat_id, "bob", "live")
        lines.append(await tail.stdout.readline())
        tail.send_signal(signal.SIGINT)
        assert await tail.wait() == 130
    assert [line.decode().split("] ")[1] for line in lines] == [
        "bob: message 11\n",
        "bob: message 12\n",
        "bob: live\n",
    ]
    assert lines[0].decode().startswith(f"[{chat_id} #11 ")


async def test_message_actions_from_the_command_line(server, config_file, capsys):
    await log_in(server)
    chat_id = server.create_direct("alice", "bob")
    group = server.create_direct("alice", "carol")
    await server.store(chat_id, "alice", "helo")
    messages = server.chats[chat_id]["messages"]
    assert await parley("edit", chat_id, "1", "hello") == 0
    assert await parley("react", chat_id, "1", "👍") == 0
    assert messages[0]["reactions"] == {"👍": ["alice"]}
    assert await parley("react", chat_id, "1", "") == 0
    assert "reactions" not in messages[0]
    assert await parley("send", chat_id, "about that", "--reply-to", "1", "--mention", "bob") == 0
    assert (messages[-1]["quote"]["text"], messages[-1]["mentions"]) == ("hello", ["bob"])
    assert await parley("forward", chat_id, "1", group) == 0
    assert server.chats[group]["messages"][0]["forwarded"] is True
    assert await parley("hide", chat_id, "5") == 0
    assert server.hidden[("alice", chat_id)] == {5}
    assert await parley("delete", chat_id, "1") == 0
    assert messages[0]["deleted"] is True
    out = capsys.readouterr().out.splitlines()
    assert out == [
        "logged in as alice",
        f"edited {chat_id} #1 (as #2)",
        f"reacted to {chat_id} #1",
        f"reacted to {chat_id} #1",
        f"sent {chat_id} #5",
        f"forwarded to {group} #1",
        f"hid 1 message(s) of {chat_id}",
        f"deleted {chat_id} #1",
    ]
    assert await parley("edit", chat_id, "1", "again") == 1
    assert "bad_request" in capsys.readouterr().err


async def test_tail_shows_relations_as_what_they_do_and_their_targets_state(server, config_file):
    await log_in(server)
    chat_id = server.create_direct("alice", "bob")
    await server.store(chat_id, "bob", "helo", push=False)
    await server.act(chat_id, "bob", kind="edit", relates_to=1, text="hello")
    await server.act(chat_id, "alice", kind="reaction", relates_to=1, emoji="👍")
    await server.act(chat_id, "bob", kind="text", text="see", reply_to=1)
    tail = await asyncio.create_subprocess_exec(
        Path(sys.executable).parent / "parley", "tail", chat_id, stdout=asyncio.subprocess.PIPE
    )
    async with asyncio.timeout(10):
        lines = [await tail.stdout.readline() for _ in range(4)]
        await server.act(chat_id, "bob", kind="delete", relates_to=1)
        await server.act(chat_id, "bob", forward_of={"chat_id": chat_id, "seq": 4})
        lines += [await tail.stdout.readline() for _ in range(2)]
        tail.send_signal(signal.SIGINT)
        assert await tail.wait() == 130
    assert [line.decode().split("] ")[1] for line in lines] == [
        "bob: hello (edited)  👍 alice\n",
        "bob edited #1: hello\n",
        "alice reacted 👍 to #1\n",
        "bob: (re #1 bob: hello) see\n",
        "bob deleted #1\n",
        "bob: (forwarded) see\n",
    ]
