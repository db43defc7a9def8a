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


def interruptible() -> None:
    """Let Ctrl-C reach the child even when the tests run in the background, where the shell starts them with
    SIGINT ignored (a child inherits that, and Python then installs no KeyboardInterrupt handler)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


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
        Path(sys.executable).parent / "parley", "tail", chat_id, "-n", "2", stdout=asyncio.subprocess.PIPE,
        preexec_fn=interruptible,
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
        Path(sys.executable).parent / "parley", "tail", chat_id, stdout=asyncio.subprocess.PIPE,
        preexec_fn=interruptible,
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


# People


PNG = b"\x89PNG\r\n\x1a\n" + bytes(1000)


async def test_profile_shown_and_changed(server, config_file, tmp_path, capsys):
    await log_in(server)
    photo = tmp_path / "me.png"
    photo.write_bytes(PNG)
    assert await parley("profile") == 0
    assert await parley("profile", "--name", "Alice A.", "--about", "climbs\tand sails") == 0
    assert await parley("profile", "--avatar", str(photo)) == 0
    [upload] = server.frames("upload")
    assert (upload["chat_id"], upload["content_type"]) == ("profile", "image/png")
    media_id = server.profiles["alice"]["avatar_media_id"]
    assert await parley("profile", "--clear-about", "--clear-avatar") == 0
    assert server.profiles["alice"] == {"display_name": "Alice A."}
    out, err = capsys.readouterr()
    assert "100%" in err
    assert out.splitlines()[1:] == [
        "user_id: alice",
        "user_id: alice",
        "display_name: Alice A.",
        'about: "climbs\\tand sails"',  # a tab would make the line ambiguous
        "user_id: alice",
        "display_name: Alice A.",
        'about: "climbs\\tand sails"',
        f"avatar: {media_id} (ready) {server.upload_url}/{media_id}/thumb",
        "user_id: alice",
        "display_name: Alice A.",
    ]


async def test_bad_profiles_from_the_command_line(server, config_file, tmp_path, capsys):
    await log_in(server)
    notes = tmp_path / "notes.txt"
    notes.write_text("not a picture")
    assert "not allowed with" in usage_error(capsys, "profile", "--about", "x", "--clear-about")
    assert "not allowed with" in usage_error(capsys, "profile", "--avatar", "x.png", "--clear-avatar")
    assert await parley("profile", "--avatar", str(notes)) == 2
    assert "not named as an image" in capsys.readouterr().err
    assert await parley("profile", "--avatar", str(tmp_path / "missing.png")) == 1
    assert "No such file" in capsys.readouterr().err
    assert await parley("profile", "--name", "") == 1
    assert "bad_request" in capsys.readouterr().err
    assert await parley("profile", "--about", "x" * 141) == 1
    assert server.frames("upload") == [] and server.profiles["alice"] == {}


async def test_whois_shows_profiles_and_says_who_is_unknown(server, config_file, capsys):
    server.add_user("carol")
    server.profiles["bob"] = {"display_name": "Bob", "about": "sails\nand climbs"}
    server.deleted_users.add("dave")
    await log_in(server)
    assert await parley("whois", "bob", "Carol", "dave") == 0
    assert capsys.readouterr().out.splitlines()[1:] == [
        "user_id: bob",
        "display_name: Bob",
        'about: "sails\\nand climbs"',
        "",
        "user_id: carol",
        "",
        "user_id: dave",
        "deleted: this account was deleted",
    ]
    assert await parley("whois", "zed", "bob", "yan") == 1
    out, err = capsys.readouterr()
    assert out.splitlines()[0] == "user_id: bob"
    assert "not_found: no such user: zed, yan" in err
    assert await parley("whois", "bob,carol") == 2
    assert "not a user id" in capsys.readouterr().err
    assert "USER" in usage_error(capsys, "whois")


async def test_privacy_settings_from_the_command_line(server, config_file, capsys):
    await log_in(server, "bob")
    argv = ("--last-seen", "contacts", "--read-receipts", "off", "--groups-add", "contacts")
    assert await parley("settings", *argv) == 0
    assert server.settings["bob"] == {
        "last_seen": "contacts",
        "read_receipts": False,
        "groups_add": "contacts",
    }
    assert await parley("settings", "--last-seen", "nobody", "--read-receipts", "on") == 0
    out = capsys.readouterr().out.splitlines()[1:]
    assert out == [
        "last_seen: contacts",
        "read_receipts: off",
        "groups_add: contacts",
        "push_previews: on",
        "last_seen: nobody",
        "read_receipts: on",
        "groups_add: contacts",
        "push_previews: on",
    ]
    assert "invalid choice: 'friends'" in usage_error(capsys, "settings", "--last-seen", "friends")
    assert "invalid choice: 'nobody'" in usage_error(capsys, "settings", "--groups-add", "nobody")
    assert "invalid choice: 'no'" in usage_error(capsys, "settings", "--read-receipts", "no")


async def test_block_unblock_and_list_from_the_command_line(server, config_file, capsys):
    server.add_user("carol")
    await log_in(server)
    assert await parley("blocked") == 0
    assert capsys.readouterr().err.splitlines()[-1] == "you block nobody"
    assert await parley("block", "bob") == 0
    assert await parley("block", "carol") == 0
    assert await parley("blocked") == 0
    assert await parley("unblock", "bob") == 0
    assert await parley("blocked") == 0
    assert capsys.readouterr().out.splitlines() == [
        "blocked bob",
        "blocked carol",
        "bob",
        "carol",
        "unblocked bob",
        "carol",
    ]
    assert await parley("block", "zed") == 1
    assert "not_found" in capsys.readouterr().err
    assert await parley("block", "alice") == 1
    assert "bad_request: you cannot block yourself" in capsys.readouterr().err
    assert server.blocks["alice"] == {"carol"}


async def test_report_from_the_command_line(server, config_file, capsys):
    await log_in(server)
    chat_id = server.create_direct("alice", "bob")
    await server.store(chat_id, "bob", "buy my stuff")
    assert await parley("report", chat_id, "1", "--reason", "spam") == 0
    [report] = server.reports
    assert (report["chat_id"], report["seq"], report["reason"]) == (chat_id, 1, "spam")
    assert capsys.readouterr().out.splitlines()[-1] == f"reported {chat_id} #1 (report {report['report_id']})"
    assert "--reason" in usage_error(capsys, "report", chat_id, "1")
    assert "invalid int value" in usage_error(capsys, "report", chat_id, "first", "--reason", "spam")
    assert await parley("report", chat_id, "2", "--reason", "spam") == 1
    assert "bad_request" in capsys.readouterr().err
    assert await parley("report", chat_id, "1", "--reason", "") == 1
    assert "bad_request" in capsys.readouterr().err
    assert len(server.reports) == 1


# Groups and invites


async def test_group_info_rename_describe_settings_and_role(server, config_file, capsys):
    server.add_user("carol")
    group = server.create_group("climbing", "alice", "bob", "carol")
    await log_in(server)
    assert await parley("group", "rename", group, "Climbing Saturday") == 0
    assert await parley("group", "describe", group, "Meet at 9\tsharp") == 0
    assert await parley("group", "settings", group) == 0
    assert await parley("group", "settings", group, "--send", "admins", "--edit-info", "admins") == 0
    assert await parley("group", "role", group, "bob", "admin") == 0
    assert await parley("group", "info", group) == 0
    assert await parley("group", "describe", group, "") == 0
    assert "description" not in server.chats[group]
    assert capsys.readouterr().out.splitlines()[1:] == [
        f"renamed {group}: Climbing Saturday",
        f"described {group}",
        "send: all",
        "edit_info: all",
        "send: admins",
        "edit_info: admins",
        f"bob is an admin of {group}",
        f"chat_id: {group}",
        "kind: group",
        "name: Climbing Saturday",
        'description: "Meet at 9\\tsharp"',
        "send: admins",
        "edit_info: admins",
        "messages: 4",
        "members: alice (admin), bob (admin), carol",
        f"removed the description of {group}",
    ]
    assert [frame["settings"] for frame in server.frames("update_chat") if "settings" in frame] == [
        {"send": "admins", "edit_info": "admins"}
    ]


async def test_group_commands_the_server_refuses(server, config_file, capsys):
    server.add_user("carol")
    group = server.create_group("climbing", "carol", "alice")
    await log_in(server)
    assert await parley("group", "settings", group, "--send", "admins") == 1
    assert "forbidden: only admins change a group's settings" in capsys.readouterr().err
    assert await parley("group", "role", group, "alice", "admin") == 1
    assert "forbidden" in capsys.readouterr().err
    assert await parley("group", "rename", group, "") == 1
    assert "bad_request" in capsys.readouterr().err
    direct = server.create_direct("alice", "bob")
    assert await parley("group", "settings", direct) == 2
    assert "only groups have these settings" in capsys.readouterr().err
    assert await parley("group", "info", direct) == 0
    assert capsys.readouterr().out.splitlines()[-3:] == [
        "kind: direct",
        "messages: 0",
        "members: alice, bob",
    ]
    assert await parley("group", "info", "no-such-chat") == 1
    assert "invalid choice: 'owner'" in usage_error(capsys, "group", "role", group, "bob", "owner")
    assert "invalid choice: 'everyone'" in usage_error(
        capsys, "group", "settings", group, "--send", "everyone"
    )
    assert "SUBCOMMAND" in usage_error(capsys, "group")
    assert server.chats[group]["name"] == "climbing" and server.chats[group]["admins"] == ["carol"]


async def test_invite_create_join_and_revoke_from_the_command_line(server, config_file, capsys):
    server.add_user("carol")
    group = server.create_group("climbing", "alice", "bob")
    await log_in(server)
    assert await parley("invite", "create", group, "--expires", "1h") == 0
    token, expires = capsys.readouterr().out.splitlines()[-1].split("\t")
    assert server.frames("create_invite")[0]["expires_in"] == 3600
    assert datetime.fromisoformat(expires.removeprefix("expires ")) > datetime.now(UTC) + timedelta(
        minutes=59
    )
    assert await parley("invite", "create", group) == 0
    second = capsys.readouterr().out.split("\t")[0]
    assert "expires_in" not in server.frames("create_invite")[1]

    await log_in(server, "carol")
    assert await parley("join", token) == 0
    assert capsys.readouterr().out.splitlines()[-1] == f"joined {group} (climbing)"
    assert "carol" in server.chats[group]["members"]
    assert await parley("invite", "create", group) == 1  # carol is no admin
    assert "forbidden" in capsys.readouterr().err

    await log_in(server)
    assert await parley("invite", "revoke", group, second) == 0
    assert capsys.readouterr().out.splitlines()[-1] == f"revoked the invite to {group}"
    assert await parley("invite", "revoke", group, second) == 1
    assert "not_found" in capsys.readouterr().err
    await log_in(server, "bob")
    server.chats[group]["members"].remove("bob")  # bob left: the revoked link does not let him back
    assert await parley("join", second) == 1
    assert "not_found" in capsys.readouterr().err
    assert list(server.invites) == [token]


@pytest.mark.parametrize(
    "argv, complaint",
    [
        (["--expires", "0h"], "no time at all"),
        (["--expires", "tomorrow"], "not a duration"),
        (["--expires", "99999999999w"], "too long"),
    ],
)
async def test_bad_invite_durations_are_usage_errors(server, config_file, capsys, argv, complaint):
    await log_in(server)
    assert complaint in usage_error(capsys, "invite", "create", "group-1", *argv)
    assert server.frames("create_invite") == []


async def test_invite_durations_the_server_refuses(server, config_file, capsys):
    group = server.create_group("climbing", "alice", "bob")
    await log_in(server)
    assert await parley("invite", "create", group, "--expires", "30s") == 1
    assert await parley("invite", "create", group, "--expires", "8d") == 1
    assert capsys.readouterr().err.count("bad_request") == 2
    assert server.invites == {}
