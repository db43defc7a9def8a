"""Issue 6 end to end: presigned uploads to S3 (moto), processing through S3 -> SQS -> Lambda, signed URLs."""
import io
import subprocess

import aiohttp
import imageio_ffmpeg
from PIL import Image

from tests.e2e.test_messaging import direct_chat, run
from tests.unit.test_media import jpeg_with_gps


async def post_upload(slot: dict, data: bytes, filename: str, content_type: str) -> int:
    form = aiohttp.FormData()
    for name, value in slot["fields"].items():
        form.add_field(name, value)
    form.add_field("file", data, filename=filename, content_type=content_type)
    async with aiohttp.ClientSession() as session, session.post(slot["url"], data=form) as answer:
        return answer.status


async def fetch(url: str) -> bytes:
    async with aiohttp.ClientSession() as session, session.get(url) as answer:
        assert answer.status == 200, url
        return await answer.read()


async def upload_and_send(socket, chat_id: str, data: bytes, content_type: str, kind: str, filename: str) -> dict:
    slot = await socket.call("upload", chat_id=chat_id, filename=filename, content_type=content_type, size=len(data))
    assert slot["type"] == "upload", slot
    assert await post_upload(slot, data, filename, content_type) in (200, 201, 204)
    sent = await socket.call("send", chat_id=chat_id, client_msg_id=slot["media_id"], kind=kind,
                             media_id=slot["media_id"])
    assert sent["type"] == "sent", sent
    return slot


def test_an_image_is_uploaded_processed_and_served_without_metadata(stack):
    alice, bob = stack.user("alice"), stack.user("bob")
    chat_id = direct_chat(alice, bob)

    async def scenario():
        a, b = await alice.connect(), await bob.connect()
        slot = await upload_and_send(a, chat_id, jpeg_with_gps(1600, 1200), "image/jpeg", "image", "beach.jpg")
        assert (await b.events_of("message", 1))[0]["message"]["media"]["media_id"] == slot["media_id"]
        media = (await b.events_of("media", 1, timeout=60))[0]["media"]
        assert media["status"] == "ready" and (media["width"], media["height"]) == (1200, 1600)
        for name, box in (("thumb", (96, 96)), ("small", (320, 240)), ("large", (800, 600))):
            image = Image.open(io.BytesIO(await fetch(media["variants"][name]["url"])))
            assert image.width <= box[0] and image.height <= box[1] and not image.getexif(), name
        full = Image.open(io.BytesIO(await fetch(media["url"])))
        assert full.size == (1200, 1600) and not full.getexif()
        renewed = await b.call("media_url", media_id=slot["media_id"])
        assert renewed["media"]["status"] == "ready" and renewed["media"]["url"] != ""
        await a.close(), await b.close()

    run(scenario())


def test_a_png_that_is_really_text_is_rejected(stack):
    alice, bob = stack.user("alice"), stack.user("bob")
    chat_id = direct_chat(alice, bob)

    async def scenario():
        a, b = await alice.connect(), await bob.connect()
        await upload_and_send(a, chat_id, b"<html>not a png</html>", "image/png", "image", "fake.png")
        media = (await b.events_of("media", 1, timeout=60))[0]["media"]
        assert media["status"] == "rejected" and "url" not in media
        await a.close(), await b.close()

    run(scenario())


def test_a_video_gets_a_poster_and_renditions(stack, tmp_path):
    clip = tmp_path / "clip.mp4"
    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-loglevel", "error", "-f", "lavfi", "-i",
                    "testsrc=size=640x360:rate=25", "-t", "2", "-pix_fmt", "yuv420p", str(clip)], check=True)
    alice, bob = stack.user("alice"), stack.user("bob")
    chat_id = direct_chat(alice, bob)

    async def scenario():
        a, b = await alice.connect(), await bob.connect()
        await upload_and_send(a, chat_id, clip.read_bytes(), "video/mp4", "video", "clip.mp4")
        media = (await b.events_of("media", 1, timeout=120))[0]["media"]
        assert media["status"] == "ready" and abs(media["duration"] - 2) < 0.3
        assert set(media["variants"]) == {"poster", "360p"}  # never above the 360-line source
        assert (await fetch(media["variants"]["poster"]["url"]))[:2] == b"\xff\xd8"
        await a.close(), await b.close()

    run(scenario(), timeout=180)


def test_s3_takes_only_the_size_and_type_the_slot_was_signed_for(stack):
    alice, bob = stack.user("alice"), stack.user("bob")
    chat_id = direct_chat(alice, bob)
    data = b"%PDF-1.4 as declared"

    async def scenario():
        a = await alice.connect()
        slot = await a.call("upload", chat_id=chat_id, filename="doc.pdf", content_type="application/pdf",
                            size=len(data))
        assert await post_upload(slot, data + b"!", "doc.pdf", "application/pdf") == 400  # EntityTooLarge
        assert await post_upload(slot, data[:-1], "doc.pdf", "application/pdf") == 400  # EntityTooSmall
        html = {**slot, "fields": {**slot["fields"], "Content-Type": "text/html"}}
        assert await post_upload(html, data, "doc.pdf", "text/html") == 403
        assert await post_upload(slot, data, "doc.pdf", "application/pdf") == 204
        await a.close()

    run(scenario())


def test_strangers_cannot_upload_or_fetch(stack):
    alice, bob, eve = stack.user("alice"), stack.user("bob"), stack.user("eve")
    chat_id = direct_chat(alice, bob)

    async def scenario():
        a, e = await alice.connect(), await eve.connect()
        refused = await e.call("upload", chat_id=chat_id, filename="x.jpg", content_type="image/jpeg", size=10)
        assert refused["code"] == "forbidden"
        slot = await upload_and_send(a, chat_id, b"%PDF-1.4 tiny", "application/pdf", "file", "doc.pdf")
        assert (await e.call("media_url", media_id=slot["media_id"]))["code"] == "forbidden"
        assert eve.get(f"/media/{slot['media_id']}")[0] == 403
        assert (await a.call("upload", chat_id=chat_id, filename="big.mp4", content_type="video/mp4",
                             size=200 * 2**20))["code"] == "too_large"
        await a.close(), await e.close()

    run(scenario())
