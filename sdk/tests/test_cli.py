"""The ``parley`` command, run in a thread against the fake server (its own event loop)."""

import asyncio
import json
import signal
import stat
import sys
from datetime import UTC, datetime, timedelta
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


# Push notifications


def usage_error(capsys, *argv: str) -> str:
    """Run a command that argparse refuses (before any event loop): its exit status is 2; answer stderr."""
    with pytest.raises(SystemExit) as exited:
        main(list(argv))
    assert exited.value.code == 2
    return capsys.readouterr().err


async def test_devices_registered_and_deleted_from_the_command_line(server, config_file, capsys):
    await log_in(server, "bob")
    assert await parley("device", "register", "phone", "--platform", "fcm", "--token", "fcm-1") == 0
    assert await parley("device", "register", "ipad", "--platform", "apns", "--token", "apns-1") == 0
    assert server.devices["bob"] == {
        "phone": {"platform": "fcm", "token": "fcm-1"},
        "ipad": {"platform": "apns", "token": "apns-1"},
    }
    assert await parley("device", "delete", "ipad") == 0
    assert list(server.devices["bob"]) == ["phone"]
    assert capsys.readouterr().out.splitlines()[1:] == [
        "registered phone (fcm) for pushes",
        "registered ipad (apns) for pushes",
        "ipad gets no more pushes",
    ]


async def test_bad_device_registrations_from_the_command_line(server, config_file, capsys):
    await log_in(server, "bob")
    assert "invalid choice: 'webpush'" in usage_error(
        capsys, "device", "register", "phone", "--platform", "webpush", "--token", "t"
    )
    assert "--token" in usage_error(capsys, "device", "register", "phone", "--platform", "fcm")
    assert "SUBCOMMAND" in usage_error(capsys, "device")
    assert await parley("device", "register", "phone", "--platform", "fcm", "--token", "") == 1
    assert "bad_request" in capsys.readouterr().err
    assert not server.devices["bob"]


async def test_mute_for_a_while_until_a_time_and_off(server, config_file, capsys):
    await log_in(server, "bob")
    chat_id = server.create_direct("alice", "bob")
    before = datetime.now(UTC).replace(microsecond=0)
    assert await parley("mute", chat_id, "--for", "8h") == 0
    after = datetime.now(UTC)
    until = server.mutes[("bob", chat_id)]
    assert before + timedelta(hours=8) <= until <= after + timedelta(hours=8)
    assert await parley("mute", chat_id, "--for", "1d2h30m") == 0
    assert server.mutes[("bob", chat_id)] - until >= timedelta(hours=18, minutes=30)
    assert await parley("mute", chat_id, "--until", "2099-01-01T09:00:00+02:00") == 0
    assert await parley("chats") == 0
    assert await parley("mute", chat_id, "--off") == 0
    assert ("bob", chat_id) not in server.mutes
    assert await parley("chats") == 0
    out = capsys.readouterr().out.splitlines()[1:]
    assert out[0] == f"muted {chat_id} until {until.isoformat().replace('+00:00', 'Z')}"
    assert out[2:] == [
        f"muted {chat_id} until 2099-01-01T07:00:00Z",
        f"{chat_id}\tdirect\talice, bob\t0 messages\tmuted until 2099-01-01T07:00:00Z",
        f"unmuted {chat_id}",
        f"{chat_id}\tdirect\talice, bob\t0 messages",
    ]
    assert [frame["until"] for frame in server.frames("mute")][2:] == ["2099-01-01T07:00:00Z", None]


@pytest.mark.parametrize(
    "argv, complaint",
    [
        (["--for", "8"], "not a duration"),
        (["--for", "h"], "not a duration"),
        (["--for", "8x"], "not a duration"),
        (["--for", "8 h"], "not a duration"),
        (["--for", "1.5h"], "not a duration"),
        (["--for", "0h"], "no time at all"),
        (["--for", "0m0s"], "no time at all"),
        (["--for", "-5m"], "expected one argument"),
        (["--for", "99999999999w"], "too long"),
        (["--until", "tomorrow"], "not an ISO 8601 time"),
        (["--until", "2099-01-01T09:00:00"], "has no zone"),
        (["--for", "8h", "--off"], "not allowed with"),
        ([], "one of the arguments --for --until --off is required"),
    ],
)
async def test_bad_mute_options_are_usage_errors(server, config_file, capsys, argv, complaint):
    await log_in(server, "bob")
    assert complaint in usage_error(capsys, "mute", "alice-bob", *argv)
    assert server.frames("mute") == []


async def test_mutes_the_server_refuses(server, config_file, capsys):
    await log_in(server, "bob")
    server.add_user("carol")
    chat_id = server.create_direct("alice", "bob")
    assert await parley("mute", chat_id, "--until", "2001-01-01T00:00:00Z") == 1
    assert "bad_request: until must be in the future" in capsys.readouterr().err
    assert await parley("mute", server.create_direct("alice", "carol"), "--for", "1h") == 1
    assert "forbidden" in capsys.readouterr().err
    assert await parley("mute", chat_id, "--for", "3000000d") == 2  # past the year 9999
    assert "year 9999" in capsys.readouterr().err
    assert server.mutes == {}


async def test_settings_shown_and_changed(server, config_file, capsys):
    await log_in(server, "bob")
    assert await parley("settings") == 0
    assert await parley("settings", "--push-previews", "off") == 0
    assert server.settings["bob"] == {"push_previews": False}
    assert await parley("settings") == 0
    assert await parley("settings", "--push-previews", "on") == 0
    lines = capsys.readouterr().out.splitlines()[1:]
    assert [line for line in lines if line.startswith("push_previews:")] == [
        "push_previews: on",
        "push_previews: off",
        "push_previews: off",
        "push_previews: on",
    ]
    assert "invalid choice: 'no'" in usage_error(capsys, "settings", "--push-previews", "no")


async def test_pushes_lists_what_the_local_stack_recorded(server, config_file, capsys):
    server.add_user("carol")
    await log_in(server, "bob")
    with_alice, with_carol = server.create_direct("alice", "bob"), server.create_direct("bob", "carol")
    assert await parley("pushes") == 0
    assert capsys.readouterr().err.splitlines()[-1] == "no pushes yet"
    server.devices["bob"]["phone"] = {"platform": "fcm", "token": "t1"}
    server.devices["bob"]["ipad"] = {"platform": "apns", "token": "t2"}
    await server.store(with_alice, "alice", "dinner\tat 8?\nor 9")
    server.settings["bob"]["push_previews"] = False
    await server.store(with_carol, "carol", "secret")
    await server.act(with_carol, "carol", kind="image", media_id="m1")
    await server.store(with_alice, "bob", "my own: no push")
    assert await parley("pushes") == 0
    assert capsys.readouterr().out.splitlines() == [
        f'phone\tfcm\t{with_alice} #1\talice\t"dinner\\tat 8?\\nor 9"\t1 unread chat',
        f'ipad\tapns\t{with_alice} #1\talice\t"dinner\\tat 8?\\nor 9"\t1 unread chat',
        f"phone\tfcm\t{with_carol} #1\tcarol\t(no preview)\t2 unread chats",
        f"ipad\tapns\t{with_carol} #1\tcarol\t(no preview)\t2 unread chats",
        f"phone\tfcm\t{with_carol} #2\tcarol\t<image>\t2 unread chats",
        f"ipad\tapns\t{with_carol} #2\tcarol\t<image>\t2 unread chats",
    ]


async def test_pushes_off_the_local_stack_says_so(server, config_file, capsys):
    await log_in(server, "bob")
    server.devstack_refusal = 403
    assert await parley("pushes") == 1
    assert "pushes are listed only by the local stack" in capsys.readouterr().err
