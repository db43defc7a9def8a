"""Push notifications to devices without a live socket, mutes, and the unread count a push carries.

After a `message` frame has gone to its members' sockets, the members' devices registered for pushes that have
no fresh socket are handed to the fan-out queue as `push` tasks of up to RECIPIENTS_PER_TASK users (never
inline: a send answers as soon as the frames are out). Which devices a user has, and their `push_previews`
setting, come with the users items every delivery reads already; a task reads the recipients' mutes of that
chat in one batch, each recipient's unread count, and publishes once per device. A push that fails is logged and
counted (`PushFailures`) and never retried (the message waits in `sync`); an endpoint SNS reports disabled is
deleted with its registration.

The unread count (chats with a text or media message from someone else after the user's read cursor) is read
from *unread candidates* (chalicelib/news.py): one item per chat and user with a device registered (messages
from before a user's first registration are not counted), written with the news marks and coalesced like them,
the first counted message of a minute in each container. A candidate at `seq` says the chat is unread if the
read cursor is below `seq`, read if the cursor has reached the chat's `last_seq`, and
otherwise the messages after the cursor decide. A candidate found read is deleted (on condition it was not
replaced meanwhile) once its minute is over a minute old: a later message coalesced into its minute was stored
before the head was read, so the head covered it, and one in a later minute replaces the candidate. So a count
reads the user's candidates (about the chats unread now) and their heads and cursors, never every chat.
"""
from chalicelib import clock
from chalicelib.access import Access
from chalicelib.delivery import Delivery
from chalicelib.errors import BadRequest
from chalicelib.fanout import RECIPIENTS_PER_TASK, Fanout
from chalicelib.model import Cursors, Device, Reach, direct_members, epoch_from_iso
from chalicelib.news import COUNTED_KINDS, News, minute_of
from chalicelib.observability import logger, metrics
from chalicelib.sns_notifier import EndpointGone
from chalicelib.storage import ChatStore, MessageStore, ReceiptStore, UserStore

PUSH_TASK = "push"
MAX_DEVICES = 10  # registered per user
MAX_DEVICE_ID = 64
MAX_TOKEN = 4096
PREVIEW_CHARS = 100  # code points of the text a push may show
LATEST_MUTE = 253402300799  # 9999-12-31T23:59:59Z, the last time ISO 8601 in four digits can say
UNREAD_SCAN = 50  # messages after a read cursor looked at for one counted: past that, the chat counts as unread


class Notifications:
    def __init__(self, users: UserStore, chats: ChatStore, messages: MessageStore, receipts: ReceiptStore,
                 news: News, access: Access, delivery: Delivery, fanout: Fanout, notifier):
        self._users = users
        self._chats = chats
        self._messages = messages
        self._receipts = receipts
        self._news = news
        self._access = access
        self._fanout = fanout
        self._notifier = notifier
        fanout.handle(PUSH_TASK, self.run)
        delivery.watch(self.notify)

    def register(self, user_id: str, device_id: str, platform: object, token: object) -> dict:
        if not 0 < len(device_id) <= MAX_DEVICE_ID:
            raise BadRequest(f"a device id has 1 to {MAX_DEVICE_ID} characters")
        if platform not in ("apns", "fcm"):
            raise BadRequest("platform must be 'apns' or 'fcm'")
        if platform not in self._notifier.platforms:
            raise BadRequest(f"this deployment has no {platform} credentials: see docs/deploy.md")
        if not isinstance(token, str) or not 0 < len(token) <= MAX_TOKEN:
            raise BadRequest(f"token must be a string of 1 to {MAX_TOKEN} characters")
        registered = {device.device for device in self._users.devices(user_id)}
        if device_id not in registered and len(registered) >= MAX_DEVICES:
            raise BadRequest(f"at most {MAX_DEVICES} devices may be registered; delete one first")
        endpoint, previous = self._notifier.register(platform, token, user_id, device_id)
        if previous is not None:  # the token moved (a phone signed into another account): the old owner loses it
            self._users.remove_device(previous["user_id"], previous["device"], endpoint)
        replaced = self._users.put_device(user_id, Device(device_id, platform, endpoint))
        if replaced is not None and replaced.endpoint != endpoint:
            self._notifier.delete(replaced.endpoint)
        return {"device": device_id, "platform": platform}

    def unregister(self, user_id: str, device_id: str) -> None:
        removed = self._users.remove_device(user_id, device_id)
        if removed is not None:
            self._notifier.delete(removed.endpoint)

    def unregister_all(self, user_id: str) -> None:
        for device in self._users.devices(user_id):
            self.unregister(user_id, device.device)

    def mute(self, user_id: str, chat_id: str, until: str | None) -> None:
        self._access.member(user_id, chat_id)
        if until is None:
            self._chats.mute(user_id, chat_id, None)
            return
        try:
            until_epoch = int(epoch_from_iso(until))
        except ValueError:
            raise BadRequest("until must be an ISO 8601 time, or null to unmute") from None
        if until_epoch <= clock.now():
            raise BadRequest("until must be in the future")
        if until_epoch > LATEST_MUTE:
            raise BadRequest("until must be before the year 10000")
        self._chats.mute(user_id, chat_id, until_epoch)

    def notify(self, frame: dict, reach: dict[str, Reach]) -> None:
        """After a message frame went to sockets: queue a push to each recipient's devices without a fresh one."""
        if frame["type"] != "message" or frame["message"]["kind"] not in COUNTED_KINDS:
            return
        message, now = frame["message"], clock.now()
        recipients = {user_id: (user.previews, user.unreached_devices(now)) for user_id, user in reach.items()
                      if user_id != message["sender_id"]}
        recipients = {user_id: entry for user_id, entry in recipients.items() if entry[1]}
        if not recipients:
            return
        summary = {key: message[key] for key in ("chat_id", "seq", "sender_id", "kind")}
        if message.get("text"):
            summary["preview"] = message["text"][:PREVIEW_CHARS]
        summary["mentions"] = message.get("mentions") or []
        users = sorted(recipients)
        tasks = [{"task": PUSH_TASK, "message": summary, "recipients": {
            user_id: {"previews": recipients[user_id][0],
                      "devices": [[d.device, d.platform, d.endpoint] for d in recipients[user_id][1]]}
            for user_id in users[start:start + RECIPIENTS_PER_TASK]}}
            for start in range(0, len(users), RECIPIENTS_PER_TASK)]
        try:
            self._fanout.dispatch(tasks)
        except Exception:  # a push never fails the send
            logger.exception("could not queue pushes", extra={"chat_id": message["chat_id"]})
            metrics.add_metric(name="PushFailures", unit="Count", value=len(recipients))

    def run(self, task: dict) -> None:
        """A `push` task: each recipient's devices get the payload, unless the chat is muted and they are not
        mentioned."""
        message, recipients = task["message"], task["recipients"]
        chat_id, now = message["chat_id"], clock.now()
        muted = {user_id for user_id, until in self._chats.muted_in(recipients, chat_id).items()
                 if until > now and user_id not in message["mentions"]}
        for user_id, entry in recipients.items():
            if user_id in muted:
                continue
            devices = [Device(*device) for device in entry["devices"]]
            try:
                payload = {key: message[key] for key in ("chat_id", "seq", "sender_id", "kind")}
                if entry["previews"] and "preview" in message:
                    payload["preview"] = message["preview"]
                payload["unread_chats"] = self.unread_chats(user_id, chat_id)
            except Exception:
                logger.exception("could not build a push", extra={"chat_id": chat_id})
                metrics.add_metric(name="PushFailures", unit="Count", value=len(devices))
                continue
            for device in devices:
                self._publish(user_id, device, payload)

    def _publish(self, user_id: str, device: Device, payload: dict) -> None:
        try:
            self._notifier.publish(device, payload)
            metrics.add_metric(name="PushesSent", unit="Count", value=1)
        except EndpointGone:
            logger.info("a push endpoint is disabled: removing the device", extra={"device": device.device})
            metrics.add_metric(name="PushEndpointsRemoved", unit="Count", value=1)
            if self._users.remove_device(user_id, device.device, device.endpoint) is not None:
                self._notifier.delete(device.endpoint)
        except Exception:
            logger.exception("a push failed", extra={"device": device.device})
            metrics.add_metric(name="PushFailures", unit="Count", value=1)

    def unread_chats(self, user_id: str, pushed_chat: str) -> int:
        """How many of the user's chats are unread, the one being pushed included (see the module's docstring)."""
        candidates = self._news.unread_candidates(user_id)
        candidates.pop(pushed_chat, None)
        if not candidates:
            return 1
        heads = self._chats.heads(candidates)
        group_cursors = self._receipts.cursors_in(user_id, [c for c in candidates if direct_members(c) is None])
        settled_before = minute_of(clock.now()) - 1
        unread = 1
        for chat_id, (seq, minute) in candidates.items():
            head = heads.get(chat_id)
            cursors = None if head is None else \
                head.direct.cursors.get(user_id) if head.direct else group_cursors.get(chat_id)
            if head is not None and cursors is not None and self._unread(chat_id, user_id, seq, head.last_seq, cursors):
                unread += 1
            elif minute < settled_before:  # read, or no longer the user's chat
                self._news.drop_unread(user_id, chat_id, seq, minute)
        return unread

    def _unread(self, chat_id: str, user_id: str, seq: int, last_seq: int, cursors: Cursors) -> bool:
        if cursors.read >= last_seq:
            return False
        if cursors.read < seq:
            return True
        after = self._messages.messages_after(chat_id, cursors.read, UNREAD_SCAN)
        return len(after) == UNREAD_SCAN or any(m.kind in COUNTED_KINDS and m.sender_id != user_id for m in after)

