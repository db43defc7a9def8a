"""Media: upload slots, the processing of what arrives, and short-lived URLs for members only.

A client asks for an upload slot (an S3 presigned POST bound to one key, the declared type and the exact
declared size), posts the bytes straight to S3, and S3 tells an SQS queue, whose consumer checks what really
arrived (size, magic bytes, decoding), makes the renditions, and tells the chat. Nothing is served from the
upload itself but plain files: images and videos are served re-encoded, without their metadata. A profile
picture is uploaded the same way with `chat_id: "profile"`; only its uploader is told, and others get its URLs
with the profile (chalicelib/people.py).
"""
import re
import tempfile
import uuid
from pathlib import Path
from urllib.parse import unquote_plus

from chalicelib import clock
from chalicelib.access import Access
from chalicelib.errors import BadRequest, Forbidden, NotFound, TooLarge
from chalicelib.fanout import Fanout
from chalicelib.model import Chat, Media, MediaLimits, Rendition, iso_from_epoch, now_iso
from chalicelib.observability import logger
from chalicelib.rate_limits import RateLimiter
from chalicelib.storage import BlobStore, ChatStore, MediaStore

UPLOAD_PREFIX = "uploads/"
CONTENT_TYPE = re.compile(r"[a-z0-9][a-z0-9!#$&^_.+-]{0,63}/[a-z0-9][a-z0-9!#$&^_.+-]{0,63}")
UPLOAD_SECONDS = 600
PROFILE_TARGET = "profile"  # an upload's `chat_id` for a profile picture: the item's is "profile:{user}"
URL_SECONDS = 900


def kind_of(content_type: str) -> str:
    from chalicelib.media_processing import media_kind
    return media_kind(content_type)


class MediaService:
    def __init__(self, media: MediaStore, blobs: BlobStore, chats: ChatStore, access: Access, fanout: Fanout,
                 rate: RateLimiter, limits: MediaLimits = MediaLimits()):
        self._rate = rate
        self._media = media
        self._blobs = blobs
        self._chats = chats
        self._access = access
        self._fanout = fanout
        self._limits = limits

    def request_upload(self, user_id: str, chat_id: str, filename: str, content_type: str, size: int) -> dict:
        from chalicelib.media_processing import safe_filename
        self._rate.take("upload", user_id)
        if chat_id == PROFILE_TARGET:
            chat_id = f"profile:{user_id}"
        else:
            self._access.member(user_id, chat_id)
        content_type = content_type.strip().lower()
        if not CONTENT_TYPE.fullmatch(content_type):
            raise BadRequest("content_type must be a MIME type such as image/jpeg")
        kind = kind_of(content_type)
        if chat_id.startswith("profile:") and kind != "image":
            raise BadRequest("a profile picture is an image")
        limit = self._limits.for_kind(kind)
        if size < 1:
            raise BadRequest("size must be at least 1 byte")
        if size > limit:
            raise TooLarge(f"{kind}s are at most {limit} bytes")
        media = Media(media_id=uuid.uuid4().hex, chat_id=chat_id, uploader_id=user_id,
                      filename=safe_filename(filename), content_type=content_type, size=size, kind=kind,
                      created_at=now_iso())
        media.upload_key = UPLOAD_PREFIX + media.media_id
        self._media.put(media)
        form = self._blobs.upload_form(media.upload_key, content_type, size, UPLOAD_SECONDS)
        return {"media_id": media.media_id, "url": form["url"], "fields": form["fields"],
                "expires_at": iso_from_epoch(clock.now() + UPLOAD_SECONDS), "max_size": limit}

    def attachable(self, user_id: str, chat_id: str, media_id: str | None, kind: str) -> Media:
        """The media a `send` of this kind may carry: the sender's own upload into this chat."""
        if not media_id:
            raise BadRequest(f"a {kind} message needs a media_id")
        media = self._media.get(media_id)
        if media is None or media.chat_id != chat_id or media.uploader_id != user_id:
            raise NotFound(f"no media {media_id!r} of yours in this chat")
        if media.status == "rejected":
            raise BadRequest(f"media {media_id!r} was rejected: {media.reason}")
        if media.kind != kind:
            raise BadRequest(f"media {media_id!r} is a {media.kind}, not a {kind}")
        return media

    def describe(self, user_id: str, media_id: str) -> dict:
        media = self._media.get(media_id)
        if media is None:
            raise NotFound(f"no media {media_id!r}")
        if media.chat_id.startswith("profile:"):  # others get an avatar's URLs with its owner's profile
            if media.uploader_id != user_id:
                raise Forbidden("profile pictures are served with their profile (GET /api/users)")
            return self.to_wire(media)
        for chat_id in (media.chat_id, *media.shared_with):
            try:
                self._access.member(user_id, chat_id)
                return self.to_wire(media)
            except (Forbidden, NotFound):
                continue
        raise Forbidden("only members of the chats the media was sent to can see it")

    def share(self, media_id: str, chat_id: str) -> None:
        """A forward carries the item into another chat: no new upload, one more message using it."""
        media = self._media.get(media_id)
        if media is None or media.status == "pending":
            raise BadRequest("forward_of names a message whose media is still being processed; try again shortly")
        self._media.share(media_id, chat_id)

    def release(self, media_id: str) -> None:
        """A message using the item was deleted for everyone: once none uses it, its files and item go."""
        media = self._media.get(media_id)
        if media is not None and self._media.release(media_id):
            self._erase(media)

    def erase_uploads_of(self, user_id: str) -> None:
        """A deleted account's uploads go, files and items, wherever they were sent or forwarded."""
        for media in self._media.get_many(self._media.uploaded_by(user_id)).values():
            self._erase(media)

    def _erase(self, media: Media) -> None:
        renditions = [media.original, *media.variants.values()]
        for key in {media.upload_key, *(rendition.key for rendition in renditions if rendition)} - {""}:
            self._blobs.delete(key)
        self._media.delete(media.media_id)

    def wire_many(self, media_ids: list[str]) -> dict[str, dict]:
        return {media_id: self.to_wire(media) for media_id, media in self._media.get_many(media_ids).items()}

    def to_wire(self, media: Media) -> dict:
        from chalicelib.media_processing import content_disposition
        wire = {"media_id": media.media_id, "content_type": media.content_type, "size": media.size,
                "filename": media.filename, "status": media.status}
        if media.status != "ready" or media.original is None:
            return wire
        disposition = content_disposition(media.filename) if media.kind == "file" else None
        wire["url"] = self._blobs.url(media.original.key, URL_SECONDS, disposition)
        if media.variants:
            wire["variants"] = {name: {"url": self._blobs.url(r.key, URL_SECONDS), "content_type": r.content_type,
                                       **{k: v for k, v in (("width", r.width), ("height", r.height)) if v}}
                                for name, r in media.variants.items()}
        for name in ("width", "height", "duration"):
            if getattr(media, name) is not None:
                wire[name] = getattr(media, name)
        return wire

    def process_key(self, key: str) -> None:
        """Check and render what arrived at an upload key; settle the item once; tell the chat."""
        from chalicelib.media_processing import MediaRejected, process_upload
        media = self._media.get(key.removeprefix(UPLOAD_PREFIX)) if key.startswith(UPLOAD_PREFIX) else None
        if media is None or media.status != "pending":
            return  # not ours, or a repeated S3 event for an item already settled
        with tempfile.TemporaryDirectory() as work:
            upload = str(Path(work) / "upload")
            self._blobs.download(key, upload)
            try:
                processed = process_upload(upload, media.content_type, media.size, work)
            except MediaRejected as rejection:
                logger.info("media rejected", extra={"media_id": media.media_id, "detail": rejection.detail[:500]})
                media.status, media.reason = "rejected", rejection.reason
                self._blobs.delete(key)
            else:
                self._store_renditions(media, processed, upload)
                media.status = "ready"
        if self._media.settle(media):
            self._blobs.delete(key)  # uploads/ expires in days; and only what was checked and cleaned is served
            if media.chat_id.startswith("profile:"):
                self._fanout.to_members([media.uploader_id], {"type": "media", "chat_id": PROFILE_TARGET,
                                                              "media": self.to_wire(media)})
            elif (chat := self._chats.get(media.chat_id)) is not None:
                self._tell(chat, media)

    def _store_renditions(self, media: Media, processed, upload: str) -> None:
        """Store what is served, under media/: the renditions, and the cleaned original (a file: itself)."""
        media.width, media.height, media.duration = processed.width, processed.height, processed.duration
        original = processed.original
        made = {name: (r.path, r.content_type, r.width, r.height) for name, r in processed.variants.items()}
        made["original"] = (original.path, original.content_type, original.width, original.height) if original \
            else (Path(upload), media.content_type, None, None)
        stored = {}
        for name, (path, content_type, width, height) in made.items():
            key = f"media/{media.media_id}/{name}{Path(path).suffix}"
            self._blobs.upload(str(path), key, content_type)
            stored[name] = Rendition(key=key, content_type=content_type, width=width, height=height)
        media.original = stored.pop("original")
        media.variants = stored

    def _tell(self, chat: Chat, media: Media) -> None:
        self._fanout.to_members(chat.member_ids,
                                {"type": "media", "chat_id": chat.chat_id, "media": self.to_wire(media)})

    def process_batch(self, event: dict) -> dict:
        """An SQS batch of S3 event notifications; failed records go back for redelivery."""
        import json

        from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response

        def handle(record) -> None:
            for s3_record in json.loads(record.body).get("Records", []):  # s3:TestEvent has none
                if s3_record.get("eventName", "").startswith("ObjectCreated"):
                    self.process_key(unquote_plus(s3_record["s3"]["object"]["key"]))

        return dict(process_partial_response(event=event, processor=BatchProcessor(event_type=EventType.SQS),
                                             record_handler=handle))
