import struct
import subprocess
import sys
import zlib
from pathlib import Path

import pytest
from PIL import Image, ImageFile, PngImagePlugin

from chalicelib import media_processing as mp

GPS_LATITUDE = (48.0, 51.0, 29.0)
XMP = b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF>secret-xmp</rdf:RDF></x:xmpmeta>'


def ffmpeg(*args: str) -> None:
    import imageio_ffmpeg

    subprocess.run(
        [imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "error", "-y", *args],
        check=True,
        timeout=60,
    )


def ffmpeg_report(path: Path) -> str:
    import imageio_ffmpeg

    result = subprocess.run(
        [imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-i", str(path)], capture_output=True, timeout=60
    )
    return result.stderr.decode()


def exif_with_gps(orientation: int = 1) -> Image.Exif:
    exif = Image.Exif()
    exif[0x0112] = orientation
    exif[0x010F] = "SpyCam"
    exif.get_ifd(0x8825).update({1: "N", 2: GPS_LATITUDE, 3: "E", 4: (2.0, 17.0, 40.0)})
    return exif


def two_tone(size: tuple[int, int], mode: str = "RGB", top=(255, 0, 0), bottom=(0, 0, 255)) -> Image.Image:
    """Top half `top`, bottom half `bottom`, so a rotation can be seen."""
    image = Image.new(mode, size, bottom)
    image.paste(top, (0, 0, size[0], size[1] // 2))
    return image


def write_photo(path: Path, size=(1600, 1200), orientation: int = 6) -> Path:
    two_tone(size).save(
        path,
        "JPEG",
        exif=exif_with_gps(orientation).tobytes(),
        icc_profile=b"fake icc profile",
        xmp=XMP,
        comment=b"secret comment",
    )
    return path


def process(path: Path, content_type: str, tmp_path: Path) -> mp.ProcessedMedia:
    output = tmp_path / "out"
    output.mkdir()
    return mp.process_upload(path, content_type, path.stat().st_size, output)


def assert_no_metadata(rendition: mp.Rendition) -> None:
    data = rendition.path.read_bytes()
    for marker in (b"Exif", b"SpyCam", b"secret", b"xmpmeta", b"fake icc"):
        assert marker not in data, (rendition.path.name, marker)
    with Image.open(rendition.path) as image:
        assert len(image.getexif()) == 0
        for key in ("exif", "xmp", "icc_profile", "comment", "XML:com.adobe.xmp"):
            assert key not in image.info, (rendition.path.name, key)
        assert not getattr(image, "text", {})


def png_with_header(width: int, height: int) -> bytes:
    """A PNG whose IHDR claims width x height (1-bit grey) with a token IDAT: cheap to make."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + chunk(b"IEND", b"")
    )


# --- kinds and cheap checks -------------------------------------------------------------------


def test_import_leaves_pillow_and_ffmpeg_unloaded():
    code = (
        "import sys, chalicelib.media_processing\n"
        "print(sorted(m for m in sys.modules if m.startswith(('PIL', 'imageio'))))"
    )
    root = Path(mp.__file__).parents[2]
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=root)
    assert loaded.stdout.strip() == "[]"


@pytest.mark.parametrize(
    ("content_type", "kind"),
    [
        ("image/jpeg", "image"),
        ("IMAGE/PNG; charset=binary", "image"),
        ("image/tiff", "file"),
        ("video/quicktime", "video"),
        ("video/x-msvideo", "file"),
        ("application/pdf", "file"),
    ],
)
def test_media_kind_follows_declared_type(content_type, kind):
    assert mp.media_kind(content_type) == kind


def test_size_mismatch_is_rejected(tmp_path):
    photo = write_photo(tmp_path / "photo.jpg", size=(64, 48))
    with pytest.raises(mp.MediaRejected, match="size mismatch"):
        mp.process_upload(photo, "image/jpeg", photo.stat().st_size + 1, tmp_path)


def test_text_declared_as_png_is_rejected(tmp_path):
    fake = tmp_path / "fake.png"
    fake.write_text("just some text, not a picture\n")
    with pytest.raises(mp.MediaRejected, match="does not match the declared type image/png") as raised:
        mp.check_upload(fake, "image/png", fake.stat().st_size)
    assert raised.value.reason == "content does not match the declared type image/png"


def test_jpeg_declared_as_png_is_rejected(tmp_path):
    photo = write_photo(tmp_path / "photo.jpg", size=(64, 48))
    with pytest.raises(mp.MediaRejected, match="does not match"):
        mp.check_upload(photo, "image/png", photo.stat().st_size)


def test_png_signature_with_garbage_body_is_rejected(tmp_path):
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n" + b"not really a png" * 20)
    with pytest.raises(mp.MediaRejected, match="not a decodable image"):
        process(broken, "image/png", tmp_path)


def test_truncated_jpeg_is_rejected(tmp_path):
    photo = write_photo(tmp_path / "photo.jpg", size=(640, 480))
    truncated = tmp_path / "truncated.jpg"
    truncated.write_bytes(photo.read_bytes()[:2000])
    with pytest.raises(mp.MediaRejected, match="not a decodable image"):
        process(truncated, "image/jpeg", tmp_path)


def test_other_files_are_accepted_untouched(tmp_path):
    document = tmp_path / "notes.pdf"
    document.write_bytes(b"%PDF-1.7 whatever\n")
    result = process(document, "application/pdf", tmp_path)
    assert result == mp.ProcessedMedia(kind="file")
    assert list((tmp_path / "out").iterdir()) == []


def test_other_image_types_must_decode(tmp_path):
    bitmap = tmp_path / "picture.bmp"
    Image.new("RGB", (20, 10)).save(bitmap, "BMP")
    assert process(bitmap, "image/bmp", tmp_path).kind == "file"
    fake = tmp_path / "fake.tiff"
    fake.write_text("II* not really a tiff")
    with pytest.raises(mp.MediaRejected, match="not a decodable image"):
        mp.process_upload(fake, "image/tiff", fake.stat().st_size, tmp_path)


# --- images -----------------------------------------------------------------------------------


def test_photo_is_oriented_stripped_and_resized(tmp_path):
    photo = write_photo(tmp_path / "photo.jpg", size=(1600, 1200), orientation=6)
    with Image.open(photo) as source:  # the fixture really carries what must go
        assert source.getexif().get_ifd(0x8825)[2] == GPS_LATITUDE
        assert "xmp" in source.info and "icc_profile" in source.info

    result = process(photo, "image/jpeg", tmp_path)

    assert (result.kind, result.width, result.height) == ("image", 1200, 1600)
    sizes = {name: (v.width, v.height) for name, v in result.variants.items()}
    assert sizes == {"thumb": (96, 96), "small": (180, 240), "large": (450, 600)}
    assert (result.original.width, result.original.height) == (1200, 1600)
    for rendition in [result.original, *result.variants.values()]:
        assert rendition.content_type == "image/jpeg"
        assert rendition.path.parent == tmp_path / "out"
        with Image.open(rendition.path) as image:
            assert image.format == "JPEG"
            assert image.size == (rendition.width, rendition.height)
        assert_no_metadata(rendition)
    # Orientation 6 turns the stored top edge (red) to the right.
    with Image.open(result.original.path) as original:
        red, green, blue = original.getpixel((1100, 800))
        assert red > 200 and blue < 60
        red, green, blue = original.getpixel((100, 800))
        assert blue > 200 and red < 60


def test_small_image_is_never_upscaled(tmp_path):
    photo = write_photo(tmp_path / "tiny.jpg", size=(80, 50), orientation=1)
    result = process(photo, "image/jpeg", tmp_path)
    sizes = {name: (v.width, v.height) for name, v in result.variants.items()}
    assert sizes == {"thumb": (50, 50), "small": (80, 50), "large": (80, 50)}
    assert (result.original.width, result.original.height) == (80, 50)


def test_thumb_is_a_centre_crop(tmp_path):
    panorama = tmp_path / "panorama.png"
    image = Image.new("RGB", (900, 300), (0, 0, 255))
    image.paste((0, 255, 0), (300, 0, 600, 300))
    image.save(panorama)
    result = process(panorama, "image/png", tmp_path)
    with Image.open(result.variants["thumb"].path) as thumb:
        assert thumb.size == (96, 96)
        red, green, blue = thumb.getpixel((2, 2))
        assert green > 200 and blue < 60


def test_png_text_chunks_and_exif_are_dropped(tmp_path):
    source = tmp_path / "screenshot.png"
    text = PngImagePlugin.PngInfo()
    text.add_text("Comment", "secret text chunk")
    text.add_itxt("XML:com.adobe.xmp", XMP.decode())
    two_tone((400, 300)).save(
        source, pnginfo=text, exif=exif_with_gps().tobytes(), icc_profile=b"fake icc profile"
    )
    result = process(source, "image/png", tmp_path)
    assert result.original.content_type == "image/jpeg"  # opaque: no reason to keep PNG
    for rendition in [result.original, *result.variants.values()]:
        assert_no_metadata(rendition)


def test_transparent_png_stays_png(tmp_path):
    source = tmp_path / "sticker.png"
    two_tone((400, 300), mode="RGBA", top=(255, 0, 0, 255), bottom=(0, 0, 0, 0)).save(
        source, pnginfo=PngImagePlugin.PngInfo(), exif=exif_with_gps().tobytes()
    )
    result = process(source, "image/png", tmp_path)
    for rendition in [result.original, *result.variants.values()]:
        assert rendition.content_type == "image/png"
        with Image.open(rendition.path) as image:
            assert image.mode == "RGBA"
            assert image.getpixel((image.width // 2, image.height - 1))[3] == 0
        assert_no_metadata(rendition)


def test_opaque_rgba_png_becomes_jpeg(tmp_path):
    source = tmp_path / "opaque.png"
    Image.new("RGBA", (50, 40), (10, 20, 30, 255)).save(source)
    assert process(source, "image/png", tmp_path).original.content_type == "image/jpeg"


def test_sixteen_bit_greyscale_keeps_its_tones(tmp_path):
    source = tmp_path / "grey16.png"
    Image.new("I;16", (40, 30), 32768).save(source)
    result = process(source, "image/png", tmp_path)
    with Image.open(result.original.path) as image:
        assert 120 <= image.getpixel((5, 5))[0] <= 136


def png_text(text: str) -> PngImagePlugin.PngInfo:
    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", text)
    return info


@pytest.mark.parametrize(
    ("content_type", "image_format", "metadata"),
    [
        ("image/gif", "GIF", {"comment": b"secret comment"}),
        ("image/webp", "WEBP", {"xmp": XMP, "exif": exif_with_gps().tobytes()}),
        ("image/png", "PNG", {"pnginfo": png_text("secret text chunk")}),
    ],
)
def test_animation_is_kept_without_metadata(tmp_path, content_type, image_format, metadata):
    source = tmp_path / "animation"
    frames = [Image.new("RGB", (120, 80), colour) for colour in ((255, 0, 0), (0, 255, 0), (0, 0, 255))]
    frames[0].save(
        source, image_format, save_all=True, append_images=frames[1:], duration=100, loop=0, **metadata
    )
    assert b"secret" in source.read_bytes()
    result = process(source, content_type, tmp_path)
    assert result.original.content_type == content_type
    with Image.open(result.original.path) as original:
        assert (original.format, original.n_frames) == (image_format, 3)
        original.seek(2)
        assert original.convert("RGB").getpixel((5, 5))[2] > 200
    assert_no_metadata(result.original)
    for rendition in result.variants.values():
        assert rendition.content_type == "image/jpeg"


def test_multi_picture_jpeg_is_read_as_a_still(tmp_path):
    source = tmp_path / "camera.jpg"
    frames = [two_tone((320, 240)), Image.new("RGB", (320, 240), (0, 255, 0))]
    frames[0].save(source, "MPO", save_all=True, append_images=frames[1:], exif=exif_with_gps(6).tobytes())
    result = process(source, "image/jpeg", tmp_path)
    assert (result.width, result.height, result.original.content_type) == (240, 320, "image/jpeg")
    with Image.open(result.original.path) as original:
        assert (original.format, getattr(original, "n_frames", 1)) == ("JPEG", 1)
    assert_no_metadata(result.original)


def test_webp_is_processed(tmp_path):
    source = tmp_path / "photo.webp"
    two_tone((640, 480)).save(source, "WEBP", exif=exif_with_gps().tobytes(), xmp=XMP)
    result = process(source, "image/webp", tmp_path)
    assert result.variants["large"].width == 640
    for rendition in [result.original, *result.variants.values()]:
        assert_no_metadata(rendition)


@pytest.mark.parametrize("side", [20000, 8000])
def test_decompression_bomb_is_refused_before_decoding(tmp_path, monkeypatch, side):
    """20000x20000 trips Pillow's own guard at open; 8000x8000 (64 MP) passes it but not ours."""

    def refuse_to_decode(self):
        raise AssertionError("pixel data was decoded")

    monkeypatch.setattr(ImageFile.ImageFile, "load", refuse_to_decode)
    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(png_with_header(side, side))
    assert bomb.stat().st_size < 200
    with pytest.raises(mp.MediaRejected, match="image too large"):
        process(bomb, "image/png", tmp_path)


# --- videos -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("clips")
    hd, small, rotated, webm = (folder / name for name in ("hd.mp4", "small.mp4", "rotated.mov", "clip.webm"))
    ffmpeg(
        "-f", "lavfi", "-i", "testsrc=size=1280x720:rate=25", "-f", "lavfi", "-i", "sine=frequency=440",
        "-t", "2", "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac",
        "-metadata", "location=+48.8577+002.2950/", "-metadata", "title=secret-title", str(hd),
    )  # fmt: skip
    ffmpeg(
        "-f", "lavfi", "-i", "testsrc=size=320x240:rate=25", "-t", "2",
        "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", str(small),
    )  # fmt: skip
    ffmpeg("-display_rotation:v:0", "90", "-i", str(small), "-c", "copy", str(rotated))
    ffmpeg(
        "-f", "lavfi", "-i", "testsrc=size=160x120:rate=10", "-t", "1",
        "-c:v", "libvpx", "-deadline", "realtime", "-b:v", "200k",
        "-live", "1", str(webm),  # no duration in the header, like a browser's MediaRecorder
    )  # fmt: skip
    return {"hd": hd, "small": small, "rotated": rotated, "webm": webm}


def test_hd_clip_gives_poster_and_both_renditions(clips, tmp_path):
    result = process(clips["hd"], "video/mp4", tmp_path)

    assert (result.kind, result.width, result.height) == ("video", 1280, 720)
    assert result.duration == pytest.approx(2.0, abs=0.1)
    assert set(result.variants) == {"poster", "360p", "720p"}
    for name, size in {"360p": (640, 360), "720p": (1280, 720)}.items():
        rendition = result.variants[name]
        assert (rendition.content_type, rendition.width, rendition.height) == ("video/mp4", *size)
        info = mp.probe_video(rendition.path, "video/mp4")
        assert (info.width, info.height) == size
        assert info.duration == pytest.approx(2.0, abs=0.1)
        report = ffmpeg_report(rendition.path)
        assert "Video: h264" in report and "yuv420p" in report and "Audio: aac" in report
        assert "secret-title" not in report and "+48.8577" not in report
        data = rendition.path.read_bytes()
        assert data.index(b"moov") < data.index(b"mdat")  # faststart
    poster = result.variants["poster"]
    with Image.open(poster.path) as image:
        assert (image.format, image.size) == ("JPEG", (1280, 720))
    assert poster.content_type == "image/jpeg"
    original = result.original
    assert (original.content_type, original.width, original.height) == ("video/mp4", 1280, 720)
    report = ffmpeg_report(original.path)
    assert "Audio: aac" in report and "secret-title" not in report and "+48.8577" not in report


def test_small_clip_gets_no_720p(clips, tmp_path):
    result = process(clips["small"], "video/mp4", tmp_path)
    assert set(result.variants) == {"poster", "360p"}
    rendition = result.variants["360p"]
    assert (rendition.width, rendition.height) == (320, 240)  # below 360: kept at source size
    info = mp.probe_video(rendition.path, "video/mp4")
    assert (info.width, info.height) == (320, 240)
    assert "Audio" not in ffmpeg_report(rendition.path)


def test_rotated_clip_is_measured_and_rendered_upright(clips, tmp_path):
    result = process(clips["rotated"], "video/quicktime", tmp_path)
    assert (result.width, result.height) == (240, 320)
    assert (result.variants["360p"].width, result.variants["360p"].height) == (240, 320)
    assert "rotation" not in ffmpeg_report(result.variants["360p"].path)
    assert result.original.path.suffix == ".mov"
    with Image.open(result.variants["poster"].path) as poster:
        assert poster.size == (240, 320)


def test_webm_is_accepted_and_matroska_refused_as_webm(clips, tmp_path):
    assert "Duration: N/A" in ffmpeg_report(clips["webm"])
    result = process(clips["webm"], "video/webm", tmp_path)
    assert (result.width, result.height, result.original.content_type) == (160, 120, "video/webm")
    assert result.duration == pytest.approx(1.0, abs=0.15)  # measured on the rendition
    matroska = tmp_path / "clip.mkv"
    ffmpeg("-i", str(clips["webm"]), "-c", "copy", "-f", "matroska", str(matroska))
    with pytest.raises(mp.MediaRejected, match="does not match"):
        mp.check_upload(matroska, "video/webm", matroska.stat().st_size)


def test_video_beyond_8k_is_refused(clips, tmp_path, monkeypatch):
    monkeypatch.setattr("chalicelib.media_processing.videos.MAX_VIDEO_PIXELS", 320 * 240 - 1)
    with pytest.raises(mp.MediaRejected, match="video too large: 320x240"):
        process(clips["small"], "video/mp4", tmp_path)
    assert list((tmp_path / "out").iterdir()) == []


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"a text file pretending to be a video\n" * 10, "does not match the declared type video/mp4"),
        (b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2" + b"garbage" * 100, "not a decodable video"),
    ],
)
def test_undecodable_mp4_is_rejected(tmp_path, content, reason):
    fake = tmp_path / "fake.mp4"
    fake.write_bytes(content)
    with pytest.raises(mp.MediaRejected, match=reason):
        process(fake, "video/mp4", tmp_path)


def test_other_video_types_must_decode(clips, tmp_path):
    assert process(clips["small"], "video/x-custom", tmp_path).kind == "file"
    playlist = tmp_path / "list.m3u8"
    playlist.write_text("#EXTM3U\n#EXTINF:10.0,\n/etc/passwd\n#EXT-X-ENDLIST\n")
    with pytest.raises(mp.MediaRejected, match="not a decodable video"):
        mp.process_upload(playlist, "video/x-mpegurl", playlist.stat().st_size, tmp_path)


# --- filenames --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "safe"),
    [
        ("../../etc/passwd", "passwd"),
        ("C:\\Users\\me\\report.pdf", "report.pdf"),
        ('a"b\r\nX-Evil: 1.txt', "a_bX-Evil_ 1.txt"),
        ("photo\u202egnp.exe", "photognp.exe"),
        ("..", "file"),
        ("", "file"),
        ("/", "file"),
        ("résumé.pdf", "résumé.pdf"),
        ("x" * 300 + ".tar.gz", "x" * 252 + ".gz"),
        ("日" * 100 + ".txt", "日" * 83 + ".txt"),
    ],
)
def test_safe_filename(raw, safe):
    assert mp.safe_filename(raw) == safe
    assert len(mp.safe_filename(raw).encode()) <= 255


@pytest.mark.parametrize(
    ("raw", "header"),
    [
        ("../../etc/passwd", "attachment; filename=\"passwd\"; filename*=UTF-8''passwd"),
        (
            'a"b\r\nX-Evil: 1.txt',
            "attachment; filename=\"a_bX-Evil_ 1.txt\"; filename*=UTF-8''a_bX-Evil_%201.txt",
        ),
        (
            "résumé 100%.pdf",
            "attachment; filename=\"resume 100_.pdf\"; filename*=UTF-8''r%C3%A9sum%C3%A9%20100%25.pdf",
        ),
        (
            "отчёт.docx",
            "attachment; filename=\"_.docx\"; filename*=UTF-8''%D0%BE%D1%82%D1%87%D1%91%D1%82.docx",
        ),
        ("表.txt", "attachment; filename=\"_.txt\"; filename*=UTF-8''%E8%A1%A8.txt"),
        ("it's;x\\y.txt", "attachment; filename=\"y.txt\"; filename*=UTF-8''y.txt"),
        (
            "semi;colon's.txt",
            "attachment; filename=\"semi;colon's.txt\"; filename*=UTF-8''semi%3Bcolon%27s.txt",
        ),
    ],
)
def test_content_disposition(raw, header):
    value = mp.content_disposition(raw)
    assert value == header
    assert value.isascii() and "\r" not in value and "\n" not in value
