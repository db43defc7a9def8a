import io

import pytest
from PIL import Image

from chalicelib.errors import BadRequest, Forbidden, NotFound, TooLarge


def jpeg_with_gps(width=1200, height=900) -> bytes:
    image = Image.new("RGB", (width, height), "orange")
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90 when shown
    exif.get_ifd(0x8825)[2] = (48.0, 51.0, 30.0)  # GPS latitude
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif)
    return out.getvalue()


@pytest.fixture
def chat_id(world) -> str:
    world.users("ann", "ben", "eve")
    return world.services.messaging.create_direct("ann", "ben")[0].chat_id


def upload(world, chat_id, data: bytes, content_type="image/jpeg", user="ann", filename="photo.jpg") -> str:
    slot = world.services.media.request_upload(user, chat_id, filename, content_type, len(data))
    world.blobs.put_bytes(slot["fields"]["key"], data)
    return slot["media_id"]


def test_an_upload_slot_is_bound_to_a_key_type_and_size(world, chat_id):
    slot = world.services.media.request_upload("ann", chat_id, "../../etc/passwd", "Image/JPEG", 1000)
    assert slot["fields"] == {"key": f"uploads/{slot['media_id']}", "Content-Type": "image/jpeg"}
    assert slot["max_size"] == 16 * 2**20
    media = world.services.media.describe("ben", slot["media_id"])
    assert media["status"] == "pending" and media["filename"] == "passwd" and "url" not in media


@pytest.mark.parametrize("content_type, size, error", [
    ("image/jpeg", 17 * 2**20, TooLarge), ("not a type", 10, BadRequest), ("video/mp4", 0, BadRequest)])
def test_bad_upload_requests(world, chat_id, content_type, size, error):
    with pytest.raises(error):
        world.services.media.request_upload("ann", chat_id, "f", content_type, size)


def test_strangers_cannot_upload_fetch_or_send_media(world, chat_id):
    media_id = upload(world, chat_id, jpeg_with_gps())
    with pytest.raises(Forbidden):
        world.services.media.request_upload("eve", chat_id, "x.jpg", "image/jpeg", 10)
    with pytest.raises(Forbidden):
        world.services.media.describe("eve", media_id)
    with pytest.raises(NotFound):  # ben is a member, but the upload is ann's
        world.services.messaging.send("ben", chat_id, "m", "image", None, None, media_id=media_id)


def test_an_image_is_processed_stripped_and_announced(world, chat_id):
    ben = world.connect("ben")
    media_id = upload(world, chat_id, jpeg_with_gps())
    sent = world.services.messaging.send("ann", chat_id, "m1", "image", "look", None, media_id=media_id)
    pushed = world.pusher.of_type(ben, "message")[0]["message"]
    assert pushed["seq"] == sent["seq"] and pushed["media"]["status"] == "pending"
    world.services.media.process_key(f"uploads/{media_id}")
    event = world.pusher.of_type(ben, "media")[0]
    media = event["media"]
    assert event["chat_id"] == chat_id and media["status"] == "ready"
    assert (media["width"], media["height"]) == (900, 1200)  # orientation applied
    assert set(media["variants"]) == {"thumb", "small", "large"}
    assert media["variants"]["thumb"]["width"] == 96 and media["variants"]["large"]["height"] == 600
    assert not world.blobs.exists(f"uploads/{media_id}")  # the original with GPS is gone
    served = Image.open(world.blobs.folder / media["url"].split("://")[1].split("?")[0])
    assert not served.getexif() and "exif" not in served.info
    history = world.services.messaging.history("ben", chat_id, None, 10)["messages"]
    assert history[0]["media"]["variants"]["small"]["url"].startswith("memory://media/")
    world.services.media.process_key(f"uploads/{media_id}")  # a repeated S3 event changes nothing
    assert len(world.pusher.of_type(ben, "media")) == 1


def test_a_png_that_is_really_text_is_rejected_and_deleted(world, chat_id):
    ben = world.connect("ben")
    media_id = upload(world, chat_id, b"just some text, not a picture", content_type="image/png")
    world.services.media.process_key(f"uploads/{media_id}")
    assert world.pusher.of_type(ben, "media")[0]["media"]["status"] == "rejected"
    assert not world.blobs.exists(f"uploads/{media_id}")
    with pytest.raises(BadRequest):
        world.services.messaging.send("ann", chat_id, "m", "image", None, None, media_id=media_id)


def test_a_file_is_served_as_an_attachment(world, chat_id):
    media_id = upload(world, chat_id, b"%PDF-1.4 hello", content_type="application/pdf", filename='a"b\r\n.pdf')
    world.services.media.process_key(f"uploads/{media_id}")
    media = world.services.media.describe("ben", media_id)
    assert media["status"] == "ready" and "attachment" in media["url"] and "\r" not in media["url"]
    assert media["url"].startswith(f"memory://media/{media_id}/") and not world.blobs.exists(f"uploads/{media_id}")
    with pytest.raises(BadRequest):
        world.services.messaging.send("ann", chat_id, "m", "image", None, None, media_id=media_id)
