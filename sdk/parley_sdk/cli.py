"""The ``parley`` command line."""

import argparse
import asyncio
import contextlib
import getpass
import json
import logging
import mimetypes
import re
import sys
from collections.abc import AsyncIterator, Iterator
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from typing import TextIO

import aiohttp

from .client import PLATFORMS, PROFILE, ParleyClient, Tokens, iso_time
from .config import load_config, save_config
from .cursors import ChatCursors
from .errors import ParleyError

DEFAULT_URL = "http://127.0.0.1:8000"


class UsageError(Exception):
    """A command that cannot run as asked: exit status 2, like argparse's own usage errors."""


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    with _sdk_log_on_stderr():
        try:
            asyncio.run(args.run(args))
        except KeyboardInterrupt:
            return 130
        except UsageError as error:
            print(f"parley {args.command_name}: {error}", file=sys.stderr)
            return 2
        except (ParleyError, aiohttp.ClientError, OSError) as error:
            print(f"parley: {error}", file=sys.stderr)
            return 1
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="parley", description="Chat on a Parley server from the terminal.")
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    def command(name: str, run, summary: str, description: str | None = None, *, group: str = ""):
        """A subcommand (of ``group``'s, for ``parley GROUP NAME``), with ``summary`` as its help."""
        within = groups[group] if group else commands
        subparser = within.add_parser(name, help=summary, description=description or summary)
        subparser.set_defaults(run=run, command_name=f"{group} {name}".strip())
        return subparser

    groups = {}

    for name, run, summary in (
        ("signup", _signup, "create an account, then log in as it"),
        ("login", _login, "log in and remember the tokens"),
    ):
        account = command(name, run, summary)
        account.add_argument("username")
        account.add_argument("--password", help="prompted for when not given")
        account.add_argument(
            "--url", default=DEFAULT_URL, help="the server's root URL (default: %(default)s)"
        )
        account.add_argument("--rest-url", help="the REST stage URL, on AWS (instead of --url)")
        account.add_argument("--ws-url", help="the WebSocket stage URL, on AWS (instead of --url)")

    command("chats", _chats, "list your chats, most recently active first")

    send = command("send", _send, "send a text message")
    send.add_argument("chat_id", nargs="?", metavar="CHAT_ID")
    send.add_argument("text", metavar="TEXT")
    send.add_argument("--to", metavar="USER", help="to the direct chat with USER (instead of CHAT_ID)")
    send.add_argument("--reply-to", type=int, metavar="SEQ", help="in reply to message SEQ, quoting it")
    send.add_argument(
        "--mention", action="append", metavar="USER", help="mention a member (may be given again)"
    )

    edit = command("edit", _edit, "edit one of your text messages (within 15 minutes)")
    edit.add_argument("chat_id", metavar="CHAT_ID")
    edit.add_argument("seq", type=int, metavar="SEQ")
    edit.add_argument("text", metavar="TEXT")

    delete = command("delete", _delete, "delete a message for everyone")
    delete.add_argument("chat_id", metavar="CHAT_ID")
    delete.add_argument("seq", type=int, metavar="SEQ")

    react = command("react", _react, 'react to a message with one emoji ("" takes it back)')
    react.add_argument("chat_id", metavar="CHAT_ID")
    react.add_argument("seq", type=int, metavar="SEQ")
    react.add_argument("emoji", metavar="EMOJI")

    forward = command("forward", _forward, "forward a message to another chat")
    forward.add_argument("chat_id", metavar="CHAT_ID")
    forward.add_argument("seq", type=int, metavar="SEQ")
    forward.add_argument("to_chat_id", metavar="TO_CHAT_ID")

    hide = command("hide", _hide, "delete messages for yourself only")
    hide.add_argument("chat_id", metavar="CHAT_ID")
    hide.add_argument("seqs", type=int, nargs="+", metavar="SEQ")

    command("logout-all", _logout_all, "sign out every device of yours")
    command("export", _export, "write a file of your data and print its short-lived URL")

    tail = command("tail", _tail, "print messages and events as they arrive")
    tail.add_argument("chat_id", nargs="?", metavar="CHAT_ID", help="only this chat's")
    tail.add_argument(
        "-n", "--lines", type=int, default=10, help="earlier messages to show per chat (default: 10)"
    )

    upload = command("upload", _upload, "upload a file and send it as a message")
    upload.add_argument("chat_id", metavar="CHAT_ID")
    upload.add_argument("file", metavar="FILE")
    upload.add_argument("--type", help="its content type (default: guessed from the file name)")

    device = commands.add_parser(
        "device",
        help="register a device for push notifications, or delete it",
        description="Register a device for push notifications (APNs or FCM), or delete its registration. "
        "A registered device gets a push for each new message while it has no live socket.",
    )
    groups["device"] = device.add_subparsers(required=True, metavar="SUBCOMMAND")
    register = command(
        "register",
        _device_register,
        "register a device (again, when its platform token changes)",
        group="device",
    )
    register.add_argument("device", metavar="DEVICE", help="the id the device connects with (?device=...)")
    register.add_argument("--platform", required=True, choices=PLATFORMS)
    register.add_argument("--token", required=True, help="the APNs device token or FCM registration token")
    unregister = command("delete", _device_delete, "stop pushes to a device", group="device")
    unregister.add_argument("device", metavar="DEVICE")

    mute = command(
        "mute",
        _mute,
        "mute a chat's push notifications to you, or unmute it",
        "Mute a chat's push notifications to your devices, for a while or until a time, or unmute it. "
        "A message that mentions you still pushes. Other members see nothing of it.",
    )
    mute.add_argument("chat_id", metavar="CHAT_ID")
    until = mute.add_mutually_exclusive_group(required=True)
    until.add_argument(
        "--for",
        dest="duration",
        type=_duration_type("a mute lasts longer than no time at all (--off unmutes)"),
        metavar="DURATION",
        help="e.g. 30m, 8h, 7d, 1h30m",
    )
    until.add_argument(
        "--until", type=_aware_time, metavar="TIME", help="ISO 8601 with its zone: 2026-01-05T08:00:00Z"
    )
    until.add_argument("--off", action="store_true", help="unmute")

    settings = command("settings", _settings, "show your settings, or change them")
    settings.add_argument(
        "--last-seen",
        choices=("everyone", "contacts", "nobody"),
        help="who sees whether you are online and when you were last seen",
    )
    settings.add_argument(
        "--read-receipts",
        choices=("on", "off"),
        help="off: in direct chats, nobody sees that you read their messages, nor you that they read yours",
    )
    settings.add_argument("--groups-add", choices=("everyone", "contacts"), help="who may add you to a group")
    settings.add_argument(
        "--push-previews", choices=("on", "off"), help="whether pushes show the start of the message's text"
    )

    profile = command(
        "profile",
        _profile,
        "show your profile, or change it",
        "Show your profile as others see it, or change it (then it is shown as changed). Those who share a "
        "chat with you are told of a change, but those you blocked.",
    )
    profile.add_argument("--name", help="your display name (1-64 characters)")
    about = profile.add_mutually_exclusive_group()
    about.add_argument("--about", help="a line about you (up to 140 characters)")
    about.add_argument("--clear-about", action="store_true", help="remove the line about you")
    avatar = profile.add_mutually_exclusive_group()
    avatar.add_argument("--avatar", metavar="PATH", help="an image (JPEG, PNG, GIF, WebP) as your picture")
    avatar.add_argument("--clear-avatar", action="store_true", help="remove your picture")

    whois = command("whois", _whois, "show users' profiles")
    whois.add_argument("user_ids", nargs="+", metavar="USER")

    block = command(
        "block",
        _block,
        "block a user",
        "Block a user: their messages to you and their adding you to groups are refused, and they see "
        "neither your presence nor your profile's about and picture. They are not told.",
    )
    block.add_argument("user_id", metavar="USER")
    unblock = command("unblock", _unblock, "unblock a user")
    unblock.add_argument("user_id", metavar="USER")
    command("blocked", _blocked, "list the users you block")

    report = command(
        "report",
        _report,
        "report a message to the moderators",
        "Report a message to the moderators, with your reason. They see it and up to 5 messages before it, "
        "as they are now.",
    )
    report.add_argument("chat_id", metavar="CHAT_ID")
    report.add_argument("seq", type=int, metavar="SEQ")
    report.add_argument("--reason", required=True, help="why (1-500 characters)")

    group = commands.add_parser(
        "group",
        help="show a group, or change its name, description, settings or roles",
        description="Show a group, or change its name, description, settings or members' roles. Changing the "
        "settings and roles is for admins; the name and description, for whom the group's edit-info setting "
        "allows.",
    )
    groups["group"] = group.add_subparsers(required=True, metavar="SUBCOMMAND")
    info = command(
        "info", _group_info, "show a chat's name, description, settings and members", group="group"
    )
    info.add_argument("chat_id", metavar="CHAT_ID")
    rename = command("rename", _group_rename, "rename a group", group="group")
    rename.add_argument("chat_id", metavar="CHAT_ID")
    rename.add_argument("name", metavar="NAME", help="1-100 characters")
    describe = command(
        "describe", _group_describe, 'set a group\'s description ("" removes it)', group="group"
    )
    describe.add_argument("chat_id", metavar="CHAT_ID")
    describe.add_argument("text", metavar="TEXT", help="up to 512 characters")
    group_settings = command(
        "settings",
        _group_settings,
        "show who may send and edit a group's information, or change it",
        group="group",
    )
    group_settings.add_argument("chat_id", metavar="CHAT_ID")
    group_settings.add_argument("--send", choices=("all", "admins"), help="who may send messages")
    group_settings.add_argument(
        "--edit-info",
        choices=("all", "admins"),
        help="who may change the name, description, picture and disappearing messages",
    )
    role = command("role", _group_role, "make a member an admin, or an admin a member", group="group")
    role.add_argument("chat_id", metavar="CHAT_ID")
    role.add_argument("user_id", metavar="USER")
    role.add_argument("role", choices=("admin", "member"))

    invite = commands.add_parser(
        "invite",
        help="make an invite link to a group, or end one",
        description="Make an invite link to a group (admins): anyone with its token may `parley join` it "
        "until it expires or is revoked.",
    )
    groups["invite"] = invite.add_subparsers(required=True, metavar="SUBCOMMAND")
    create_invite = command("create", _invite_create, "print a new invite token", group="invite")
    create_invite.add_argument("chat_id", metavar="CHAT_ID")
    create_invite.add_argument(
        "--expires",
        type=_duration_type("an invite lasts longer than no time at all"),
        metavar="DURATION",
        help="after 1m to 7d, e.g. 1h or 1d (default: 7d)",
    )
    revoke_invite = command("revoke", _invite_revoke, "end an invite link before it expires", group="invite")
    revoke_invite.add_argument("chat_id", metavar="CHAT_ID")
    revoke_invite.add_argument("token", metavar="TOKEN")

    join = command("join", _join, "join a group with an invite token")
    join.add_argument("token", metavar="TOKEN")

    command(
        "pushes",
        _pushes,
        "list the pushes SNS would have delivered to your devices (local stack only)",
        "List the pushes your registered devices would have got, oldest first, one line each: device, "
        "platform, chat #seq, sender, preview, unread chats. Only the local stack can show them: nothing "
        "leaves the machine there, and it records what SNS would have delivered (GET /_devstack/pushes). "
        "On AWS, SNS delivers pushes to the phones and they cannot be listed.",
    )
    return parser


@contextlib.contextmanager
def _sdk_log_on_stderr() -> Iterator[None]:
    """Let the SDK's notices (reconnecting, giving up) reach stderr while a command runs."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("parley: %(message)s"))
    sdk_log = logging.getLogger("parley_sdk")
    level = sdk_log.level
    sdk_log.addHandler(handler)
    sdk_log.setLevel(logging.INFO)
    try:
        yield
    finally:
        sdk_log.removeHandler(handler)
        sdk_log.setLevel(level)


async def _signup(args: argparse.Namespace) -> None:
    password = args.password or _ask_password(confirm=True)
    async with _client_for(args) as client:
        await client.signup(args.username, password)
        await _log_in(client, args.username, password)


async def _login(args: argparse.Namespace) -> None:
    password = args.password or _ask_password(confirm=False)
    async with _client_for(args) as client:
        await _log_in(client, args.username, password)


def _ask_password(confirm: bool) -> str:
    password = getpass.getpass("Password: ")
    if confirm and getpass.getpass("Again: ") != password:
        raise UsageError("the passwords differ")
    return password


def _client_for(args: argparse.Namespace) -> ParleyClient:
    return ParleyClient(args.url, rest_url=args.rest_url, ws_url=args.ws_url)


async def _log_in(client: ParleyClient, username: str, password: str) -> None:
    user_id = await client.login(username, password)
    assert client.tokens is not None  # a login sets them
    save_config({"rest_url": client.rest_url, "ws_url": client.ws_url, "tokens": asdict(client.tokens)})
    print(f"logged in as {user_id}")


@contextlib.asynccontextmanager
async def _logged_in() -> AsyncIterator[ParleyClient]:
    """A client for the saved login; tokens it refreshed on the way are saved back."""
    config = load_config()
    if "tokens" not in config:
        raise UsageError("not logged in: run `parley login USER` first")
    tokens = Tokens(**config["tokens"])
    client = ParleyClient(rest_url=config["rest_url"], ws_url=config["ws_url"], tokens=tokens)
    try:
        yield client
    finally:
        await client.close()
        if client.tokens is not None and client.tokens != tokens:
            save_config({**config, "tokens": asdict(client.tokens)})


async def _chats(args: argparse.Namespace) -> None:
    async with _logged_in() as client:
        async for chat in client.iter_chats():
            title = chat.get("name") or ", ".join(member["user_id"] for member in chat["members"])
            muted = f"\tmuted until {chat['muted_until']}" if "muted_until" in chat else ""
            print(f"{chat['chat_id']}\t{chat['kind']}\t{title}\t{chat['last_seq']} messages{muted}")


async def _send(args: argparse.Namespace) -> None:
    if (args.chat_id is None) == (args.to is None):
        raise UsageError("give either CHAT_ID or --to USER")
    async with _logged_in() as client:
        await client.connect()
        chat_id = args.chat_id or (await client.create_direct(args.to))["chat_id"]
        sent = await client.send_text(chat_id, args.text, reply_to=args.reply_to, mentions=args.mention)
        print(f"sent {chat_id} #{sent['seq']}")


async def _edit(args: argparse.Namespace) -> None:
    async with _connected() as client:
        sent = await client.edit(args.chat_id, args.seq, args.text)
        print(f"edited {args.chat_id} #{args.seq} (as #{sent['seq']})")


async def _delete(args: argparse.Namespace) -> None:
    async with _connected() as client:
        await client.delete(args.chat_id, args.seq)
        print(f"deleted {args.chat_id} #{args.seq}")


async def _react(args: argparse.Namespace) -> None:
    async with _connected() as client:
        await client.react(args.chat_id, args.seq, args.emoji)
        print(f"reacted to {args.chat_id} #{args.seq}")


async def _forward(args: argparse.Namespace) -> None:
    async with _connected() as client:
        sent = await client.forward(args.chat_id, args.seq, args.to_chat_id)
        print(f"forwarded to {args.to_chat_id} #{sent['seq']}")


async def _hide(args: argparse.Namespace) -> None:
    async with _connected() as client:
        await client.hide(args.chat_id, args.seqs)
        print(f"hid {len(args.seqs)} message(s) of {args.chat_id}")


async def _logout_all(args: argparse.Namespace) -> None:
    async with _logged_in() as client:
        await client.logout_all()
    save_config({key: value for key, value in load_config().items() if key != "tokens"})
    print("signed out everywhere; log in again")


async def _export(args: argparse.Namespace) -> None:
    async with _logged_in() as client:
        print(await client.export())


async def _device_register(args: argparse.Namespace) -> None:
    async with _logged_in() as client:
        await client.register_device(args.device, args.platform, args.token)
        print(f"registered {args.device} ({args.platform}) for pushes")


async def _device_delete(args: argparse.Namespace) -> None:
    async with _logged_in() as client:
        await client.unregister_device(args.device)
        print(f"{args.device} gets no more pushes")


DURATION_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def _duration_type(when_zero: str):
    """An argparse ``type`` for ``30m``, ``8h``, ``7d``, ``1h30m`` (whole numbers of s, m, h, d or w), which
    refuses a duration of nothing with ``when_zero``."""

    def duration(text: str) -> timedelta:
        if not re.fullmatch(r"(\d+[smhdw])+", text):
            raise argparse.ArgumentTypeError(f"{text!r} is not a duration such as 30m, 8h or 7d")
        total = timedelta()
        try:
            for count, unit in re.findall(r"(\d+)([smhdw])", text):
                total += timedelta(**{DURATION_UNITS[unit]: int(count)})
        except OverflowError:
            raise argparse.ArgumentTypeError(f"{text} is too long a time") from None
        if not total:
            raise argparse.ArgumentTypeError(when_zero)
        return total

    duration.__name__ = "duration"  # argparse names the type in its "invalid duration value" message
    return duration


def _aware_time(text: str) -> datetime:
    """An ISO 8601 time with its zone (``Z`` or ``+01:00``): without one, which zone was meant is a guess."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an ISO 8601 time") from None
    if moment.utcoffset() is None:
        raise argparse.ArgumentTypeError(f"{text!r} has no zone: add Z (UTC) or an offset such as +01:00")
    return moment


async def _mute(args: argparse.Namespace) -> None:
    if args.off:
        until = None
    elif args.duration is not None:
        try:
            until = datetime.now(UTC).replace(microsecond=0) + args.duration
        except OverflowError:
            raise UsageError("--for: that mute would end after the year 9999") from None
    else:
        until = args.until
    async with _connected() as client:
        await client.mute(args.chat_id, until)
    print(f"unmuted {args.chat_id}" if until is None else f"muted {args.chat_id} until {iso_time(until)}")


async def _settings(args: argparse.Namespace) -> None:
    changes = {
        name: value == "on" if name in ("read_receipts", "push_previews") else value
        for name in ("last_seen", "read_receipts", "groups_add", "push_previews")
        if (value := getattr(args, name)) is not None
    }
    async with _logged_in() as client:
        settings = await client.update_settings(**changes) if changes else await client.settings()
    for name, value in settings.items():
        print(f"{name}: {_shown(value)}")


def _shown(value: object) -> str:
    """A value on a line of its own: a flag as on or off, a string as it is, unless a tab, a line break or
    another invisible character (or a leading quote) would make that ambiguous: then, and for anything
    else, as JSON."""
    if isinstance(value, bool):
        return "on" if value else "off"
    if (
        isinstance(value, str)
        and value
        and value.isprintable()
        and value.strip() == value
        and value[0] != '"'
    ):
        return value
    return json.dumps(value, ensure_ascii=False)


# People


async def _profile(args: argparse.Namespace) -> None:
    changes: dict = {}
    if args.name is not None:
        changes["display_name"] = args.name
    if args.about is not None or args.clear_about:
        changes["about"] = None if args.clear_about else args.about
    if args.clear_avatar:
        changes["avatar_media_id"] = None
    avatar: tuple[str, str] | None = None
    if args.avatar is not None:
        content_type = mimetypes.guess_type(args.avatar)[0]
        if content_type is None or not content_type.startswith("image/"):
            raise UsageError(f"--avatar: {args.avatar} is not named as an image (.jpg, .png, .gif or .webp)")
        avatar = (args.avatar, content_type)
    async with _logged_in() as client:
        if avatar is not None:
            await client.connect()
            progress_bar = ProgressBar(sys.stderr)
            changes["avatar_media_id"] = await client.upload(
                PROFILE, *avatar, progress=progress_bar
            )
            progress_bar.finish()
        profile = await client.update_profile(**changes) if changes else await client.profile()
    for line in _describe_user(profile):
        print(line)


async def _whois(args: argparse.Namespace) -> None:
    async with _logged_in() as client:
        try:
            users = await client.users(args.user_ids)
        except ValueError as error:
            raise UsageError(error) from None
    for at, user in enumerate(users):
        if at:
            print()
        for line in _describe_user(user):
            print(line)
    found = {user["user_id"] for user in users}
    unknown = [user_id for user_id in dict.fromkeys(args.user_ids) if user_id.lower() not in found]
    if unknown:
        raise ParleyError("not_found", f"no such user: {', '.join(unknown)}")


def _describe_user(user: dict) -> list[str]:
    """``user_id: alice``, ``display_name: Alice``, ``about: ...``, ``avatar: MEDIA_ID (STATUS) THUMB_URL``:
    the fields the user has, one a line."""
    lines = [f"user_id: {user['user_id']}"]
    if user.get("deleted"):
        lines.append("deleted: this account was deleted")
    lines += [f"{name}: {_shown(user[name])}" for name in ("display_name", "about") if name in user]
    if "avatar" in user:
        lines.append(f"avatar: {_describe_media(user['avatar'])}")
    return lines


def _describe_media(media: dict) -> str:
    """``MEDIA_ID (STATUS)``, and the URL of its thumbnail (or of the original) once there is one."""
    url = media.get("variants", {}).get("thumb", {}).get("url") or media.get("url")
    described = media["media_id"] + (f" ({media['status']})" if "status" in media else "")
    return f"{described} {url}" if url else described


async def _block(args: argparse.Namespace) -> None:
    async with _logged_in() as client:
        await client.block(args.user_id)
    print(f"blocked {args.user_id}")


async def _unblock(args: argparse.Namespace) -> None:
    async with _logged_in() as client:
        await client.unblock(args.user_id)
    print(f"unblocked {args.user_id}")


async def _blocked(args: argparse.Namespace) -> None:
    async with _logged_in() as client:
        blocked = await client.blocked()
    for user_id in blocked:
        print(user_id)
    if not blocked:
        print("you block nobody", file=sys.stderr)


async def _report(args: argparse.Namespace) -> None:
    async with _logged_in() as client:
        report_id = await client.report(args.chat_id, args.seq, args.reason)
    print(f"reported {args.chat_id} #{args.seq} (report {report_id})")


# Groups


async def _group_info(args: argparse.Namespace) -> None:
    async with _logged_in() as client:
        chat = await client.chat(args.chat_id)
    lines = [f"chat_id: {chat['chat_id']}", f"kind: {chat['kind']}"]
    lines += [f"{name}: {_shown(chat[name])}" for name in ("name", "description") if name in chat]
    if "avatar" in chat:
        lines.append(f"avatar: {chat['avatar']['media_id']}")
    lines += [f"{name}: {value}" for name, value in chat.get("settings", {}).items()]
    if "disappear_after" in chat:
        lines.append(f"disappear_after: {chat['disappear_after']} s")
    if "muted_until" in chat:
        lines.append(f"muted_until: {chat['muted_until']}")
    lines.append(f"messages: {chat['last_seq']}")
    members = [
        member["user_id"] + (" (admin)" if member["role"] == "admin" else "") for member in chat["members"]
    ]
    lines.append(f"members: {', '.join(members)}")
    for line in lines:
        print(line)


async def _group_rename(args: argparse.Namespace) -> None:
    async with _connected() as client:
        chat = await client.update_chat(args.chat_id, name=args.name)
    print(f"renamed {chat['chat_id']}: {_shown(chat['name'])}")


async def _group_describe(args: argparse.Namespace) -> None:
    async with _connected() as client:
        await client.update_chat(args.chat_id, description=args.text or None)
    print(f"described {args.chat_id}" if args.text else f"removed the description of {args.chat_id}")


async def _group_settings(args: argparse.Namespace) -> None:
    changes = _without_none(send=args.send, edit_info=args.edit_info)
    if changes:
        async with _connected() as client:
            chat = await client.update_chat(args.chat_id, settings=changes)
    else:
        async with _logged_in() as client:
            chat = await client.chat(args.chat_id)
    if "settings" not in chat:
        raise UsageError(f"{args.chat_id} is a {chat['kind']} chat: only groups have these settings")
    for name, value in chat["settings"].items():
        print(f"{name}: {value}")


async def _group_role(args: argparse.Namespace) -> None:
    async with _connected() as client:
        await client.set_role(args.chat_id, args.user_id, args.role)
    print(f"{args.user_id} is {'an admin' if args.role == 'admin' else 'a member'} of {args.chat_id}")


async def _invite_create(args: argparse.Namespace) -> None:
    async with _connected() as client:
        invite = await client.create_invite(args.chat_id, args.expires)
    print(f"{invite['token']}\texpires {invite['expires_at']}")


async def _invite_revoke(args: argparse.Namespace) -> None:
    async with _connected() as client:
        await client.revoke_invite(args.chat_id, args.token)
    print(f"revoked the invite to {args.chat_id}")


async def _join(args: argparse.Namespace) -> None:
    async with _connected() as client:
        chat = await client.join(args.token)
    print(f"joined {chat['chat_id']}" + (f" ({_shown(chat['name'])})" if "name" in chat else ""))


def _without_none(**fields) -> dict:
    return {name: value for name, value in fields.items() if value is not None}


async def _pushes(args: argparse.Namespace) -> None:
    async with _logged_in() as client:
        pushes = await client.local_pushes()
    for push in pushes:
        print(_describe_push(push))
    if not pushes:
        print("no pushes yet", file=sys.stderr)


def _describe_push(push: dict) -> str:
    """``phone  fcm  direct:alice:bob #3  alice  "see you at 8"  2 unread chats``, tab-separated."""
    payload = push["payload"]
    if "preview" in payload:
        preview = json.dumps(payload["preview"], ensure_ascii=False)  # quoted: tabs and newlines stay in
    else:
        preview = "(no preview)" if payload.get("kind") == "text" else f"<{payload.get('kind')}>"
    unread = payload.get("unread_chats")
    return "\t".join(
        (
            push["device"],
            push["platform"],
            f"{payload['chat_id']} #{payload['seq']}",
            payload["sender_id"],
            preview,
            f"{unread} unread chat{'' if unread == 1 else 's'}",
        )
    )


@contextlib.asynccontextmanager
async def _connected() -> AsyncIterator[ParleyClient]:
    async with _logged_in() as client:
        await client.connect()
        yield client


async def _tail(args: argparse.Namespace) -> None:
    async with _logged_in() as client:
        chats = await client.chats()
        client.cursors = ChatCursors(
            {chat["chat_id"]: max(0, chat["last_seq"] - args.lines) for chat in chats}
        )
        await client.connect()
        async for event in client.events():
            if args.chat_id in (None, _chat_of(event)):
                print(_describe(event), flush=True)


def _chat_of(event: dict) -> str | None:
    if event["type"] in ("message", "relation"):
        return event["message"]["chat_id"]
    if event["type"] == "chat":
        return event["chat"]["chat_id"]
    return event.get("chat_id")


def _describe(event: dict) -> str:
    if event["type"] not in ("message", "relation"):
        details = {key: value for key, value in event.items() if key != "type"}
        return f"* {event['type']} {json.dumps(details)}"
    message = event["message"]
    head = f"[{message['chat_id']} #{message['seq']} {message['sent_at']}] {message['sender_id']}"
    if event["type"] == "relation":
        return f"{head} {_relation(message)}"
    if message.get("deleted"):
        return f"{head}: (this message was deleted)"
    body = message.get("text", "")
    if "media" in message:
        media = message["media"]
        body = f"<{message['kind']}: {media.get('filename', media['media_id'])}> {body}".rstrip()
    if message.get("forwarded"):
        body = f"(forwarded) {body}"
    if "quote" in message:
        quote = message["quote"]
        quoted = quote.get("text", f"<{quote['kind']}>" if quote["kind"] != "text" else "(deleted)")
        body = f"(re #{quote['seq']} {quote['sender_id']}: {_snippet(quoted)}) {body}"
    if "edited_at" in message:
        body += " (edited)"
    if "reactions" in message:
        body += "  " + " ".join(f"{emoji} {','.join(users)}" for emoji, users in message["reactions"].items())
    return f"{head}: {body}"


def _relation(relation: dict) -> str:
    """An edit, delete or reaction as one line: it acts on an earlier message and is no message of its own."""
    target = f"#{relation['relates_to']}"
    if relation["kind"] == "edit":
        return f"edited {target}: {relation.get('text', '(deleted)')}"
    if relation["kind"] == "delete":
        return f"deleted {target}"
    if relation.get("emoji"):
        return f"reacted {relation['emoji']} to {target}"
    return f"took back their reaction to {target}"


def _snippet(text: str, length: int = 40) -> str:
    return text if len(text) <= length else text[: length - 1] + "…"


async def _upload(args: argparse.Namespace) -> None:
    content_type = args.type or mimetypes.guess_type(args.file)[0] or "application/octet-stream"
    kind = next((kind for kind in ("image", "video") if content_type.startswith(f"{kind}/")), "file")
    async with _logged_in() as client:
        await client.connect()
        progress_bar = ProgressBar(sys.stderr)
        media_id = await client.upload(args.chat_id, args.file, content_type, progress=progress_bar)
        progress_bar.finish()
        sent = await client.send_media(args.chat_id, media_id, kind)
        print(f"sent {args.chat_id} #{sent['seq']} ({kind} {media_id})")


class ProgressBar:
    """``[###############...............]  50%  1.2 of 2.4 MB``, redrawn in place."""

    WIDTH = 30

    def __init__(self, stream: TextIO):
        self._stream = stream

    def __call__(self, sent: int, total: int) -> None:
        filled = self.WIDTH * sent // total if total else self.WIDTH
        percent = 100 * sent // total if total else 100
        bar = "#" * filled + "." * (self.WIDTH - filled)
        self._stream.write(f"\r[{bar}] {percent:3d}%  {sent / 1e6:.1f} of {total / 1e6:.1f} MB")
        self._stream.flush()

    def finish(self) -> None:
        self._stream.write("\n")
