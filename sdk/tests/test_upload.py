import pytest

from parley_sdk import ParleyError

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 1200  # about 300 KB: several chunks


async def test_upload_posts_the_presigned_form_and_reports_progress(server, connect_as):
    chat_id = server.create_direct("alice", "bob")
    alice = await connect_as("alice")
    progress = []

    media_id = await alice.upload(
        chat_id, PNG, "image/png", "cat.png", progress=lambda sent, total: progress.append((sent, total))
    )

    [upload] = server.uploads
    assert upload["fields"] == {"key": f"uploads/{media_id}", "policy": "eyJmYWtlIjogdHJ1ZX0="}
    assert (upload["filename"], upload["content_type"], upload["data"]) == ("cat.png", "image/png", PNG)
    [request] = server.frames("upload")
    assert (request["chat_id"], request["filename"], request["content_type"], request["size"]) == (
        chat_id,
        "cat.png",
        "image/png",
        len(PNG),
    )
    sent = [sent for sent, _ in progress]
    total = progress[-1][1]
    assert len(progress) > 3 and sent == sorted(sent)
    assert sent[-1] == total > len(PNG)  # the body: the file and the form fields around it


async def test_upload_from_a_path_then_send_it(server, connect_as, tmp_path):
    chat_id = server.create_direct("alice", "bob")
    alice = await connect_as("alice")
    path = tmp_path / "dog.png"
    path.write_bytes(PNG)
    media_id = await alice.upload(chat_id, path, "image/png")
    assert server.uploads[0]["filename"] == "dog.png"
    sent = await alice.send_media(chat_id, media_id, "image")
    assert server.chats[chat_id]["messages"][sent["seq"] - 1]["media_id"] == media_id


async def test_a_refused_upload_raises(server, connect_as):
    server.s3_status = 403
    chat_id = server.create_direct("alice", "bob")
    alice = await connect_as("alice")
    with pytest.raises(ParleyError) as refused:
        await alice.upload(chat_id, PNG, "image/png", "cat.png")
    assert (refused.value.code, refused.value.status) == ("forbidden", 403)


async def test_bytes_need_a_filename(server, connect_as):
    alice = await connect_as("alice")
    with pytest.raises(ValueError):
        await alice.upload("alice-bob", PNG, "image/png")
