"""Checks and transforms uploaded media; pure logic, no AWS call.

The caller downloads an upload to a local file, calls `process_upload`, and stores the files it
returns. Every refusal is a `MediaRejected` whose `reason` can be shown to the uploader.

Kinds follow the declared content type (see `media_kind`):

- image (image/jpeg, image/png, image/gif, image/webp): decoded with Pillow, orientation applied,
  every piece of metadata dropped; gives a cleaned full-size `original` plus the `thumb`, `small`
  and `large` variants.
- video (video/mp4, video/quicktime, video/webm): decoded with the ffmpeg binary bundled in
  imageio-ffmpeg; gives a metadata-free `original` (a stream copy, no re-encode) plus a `poster`
  JPEG and H.264/AAC MP4 renditions `360p` and `720p`.
- file (anything else): served as uploaded. A declared image/* or video/* type outside the lists
  above must still decode as an image or a video.

Pillow and imageio_ffmpeg are imported inside the functions that need them: this module is
imported by Lambda handlers whose cold start should not pay for them.
"""

from __future__ import annotations

import os
import re
import subprocess
import unicodedata
import urllib.parse
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from PIL import Image

IMAGE_FORMATS = {"image/jpeg": "JPEG", "image/png": "PNG", "image/gif": "GIF", "image/webp": "WEBP"}
VIDEO_CONTAINERS = {"video/mp4": "mp4", "video/quicktime": "mov", "video/webm": "webm"}

MAX_IMAGE_PIXELS = 50_000_000
# Bounds the frames of an animation kept in memory at once (4 bytes a pixel).
MAX_ANIMATION_PIXELS = 100_000_000
THUMB_SIDE = 96
IMAGE_BOXES = {"small": (320, 240), "large": (800, 600)}
ORIGINAL_JPEG_QUALITY = 90
VARIANT_JPEG_QUALITY = 82

VIDEO_RENDITIONS = {"360p": 360, "720p": 720}
VIDEO_MAX_FPS = 30
VIDEO_ENCODING = {
    "360p": {"crf": "26", "maxrate": "1M", "bufsize": "2M", "audio_bitrate": "96k"},
    "720p": {"crf": "24", "maxrate": "3M", "bufsize": "6M", "audio_bitrate": "128k"},
}
MAX_VIDEO_PIXELS = 7680 * 4320
FFMPEG_TIMEOUT_SECONDS = 600
FFMPEG_PROBE_TIMEOUT_SECONDS = 60

_EXTENSIONS = {
    "image/jpeg": ".jpg",
    "image/png": ".png",
    "image/gif": ".gif",
    "image/webp": ".webp",
    "video/mp4": ".mp4",
    "video/quicktime": ".mov",
    "video/webm": ".webm",
}
_ANIMATED_FORMATS = {"GIF", "PNG", "WEBP"}
_SNIFF_BYTES = 64
_EBML_MAGIC = b"\x1a\x45\xdf\xa3"
_EBML_DOC_TYPE_ID = 0x4282
# Top-level atoms a QuickTime file may start with; files older than the ftyp atom have no ftyp.
_QUICKTIME_LEADING_ATOMS = {b"ftyp", b"moov", b"mdat", b"wide", b"free", b"skip", b"pnot"}
# ffmpeg demuxer per declared type: naming it skips format probing, which could otherwise pick
# a playlist demuxer (HLS, concat) that opens other files named inside the upload.
_VIDEO_DEMUXERS = {"video/mp4": "mov", "video/quicktime": "mov", "video/webm": "matroska"}
_OTHER_VIDEO_DEMUXERS = "mov,matroska,avi,mpegts,mpeg,flv,ogg,asf"


class MediaRejected(Exception):
    """The upload does not hold what was declared. `reason` is fit to show the uploader;
    `detail` (decoder output, for logs) may not be."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(reason)
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class Rendition:
    path: Path
    content_type: str
    width: int
    height: int


@dataclass(frozen=True)
class ProcessedMedia:
    """`original` is None when the upload itself is to be served (files); width, height and
    duration describe the source as displayed (orientation applied)."""

    kind: str
    width: int | None = None
    height: int | None = None
    duration: float | None = None
    original: Rendition | None = None
    variants: dict[str, Rendition] = field(default_factory=dict)


@dataclass(frozen=True)
class VideoInfo:
    width: int
    height: int
    duration: float | None


def media_kind(content_type: str) -> str:
    """The kind, "image", "video" or "file", of a declared content type (parameters ignored)."""
    base = _base_type(content_type)
    if base in IMAGE_FORMATS:
        return "image"
    if base in VIDEO_CONTAINERS:
        return "video"
    return "file"


def check_upload(path: str | os.PathLike, content_type: str, declared_size: int) -> str:
    """Cheap checks, no decoding: the size matches the declared one and, for the image and video
    types that get processed, the leading bytes match the declared type. Returns the kind.

    Decoding is what proves an image or a video: `process_upload` does it."""
    actual_size = os.path.getsize(path)
    if actual_size != declared_size:
        raise MediaRejected(f"size mismatch: declared {declared_size} bytes, received {actual_size}")
    base = _base_type(content_type)
    signature_check = _SIGNATURE_CHECKS.get(base)
    if signature_check is not None:
        with open(path, "rb") as upload:
            head = upload.read(_SNIFF_BYTES)
        if not signature_check(head):
            raise MediaRejected(f"content does not match the declared type {base}")
    return media_kind(base)


def process_upload(
    path: str | os.PathLike, content_type: str, declared_size: int, output_dir: str | os.PathLike
) -> ProcessedMedia:
    """Validates an upload and writes its renditions into `output_dir` (an existing directory)."""
    kind = check_upload(path, content_type, declared_size)
    base = _base_type(content_type)
    if kind == "image":
        return process_image(path, base, output_dir)
    if kind == "video":
        return process_video(path, base, output_dir)
    if base.startswith("image/"):
        _decode_image(path, formats=None)
    elif base.startswith("video/"):
        _ensure_video_decodes(path, base)
    return ProcessedMedia(kind="file")


def process_image(
    path: str | os.PathLike, content_type: str, output_dir: str | os.PathLike
) -> ProcessedMedia:
    """Writes `original`, `thumb`, `small` and `large` into `output_dir`; `content_type` is one of
    IMAGE_FORMATS, already checked by `check_upload`.

    Output format: JPEG, unless the image has transparent pixels, then PNG, since JPEG would
    flatten them onto a background colour. An animated GIF, WebP or PNG keeps its animation in
    its own format for `original`; its variants are stills of the first frame. Variants are
    never upscaled: a smaller source keeps its size (a `thumb` is then the centre square of the
    source's shorter side).
    """
    decoded = _decode_image(path, formats=[IMAGE_FORMATS[content_type]])
    output_dir = Path(output_dir)
    first = decoded.frames[0]
    if len(decoded.frames) > 1:
        original = _save_animation(decoded, content_type, output_dir / f"original{_EXTENSIONS[content_type]}")
    else:
        original = _save_still(first, output_dir / "original", ORIGINAL_JPEG_QUALITY, decoded.transparent)
    stills = {"thumb": _centre_square(first)}
    stills.update((name, _fit_within(first, box)) for name, box in IMAGE_BOXES.items())
    variants = {
        name: _save_still(still, output_dir / name, VARIANT_JPEG_QUALITY, decoded.transparent)
        for name, still in stills.items()
    }
    return ProcessedMedia(
        kind="image", width=first.width, height=first.height, original=original, variants=variants
    )


def process_video(
    path: str | os.PathLike,
    content_type: str,
    output_dir: str | os.PathLike,
    *,
    timeout: float = FFMPEG_TIMEOUT_SECONDS,
) -> ProcessedMedia:
    """Writes `original`, `poster`, `360p` and, for sources at least 720 on their shorter side, `720p`;
    `content_type` is one of VIDEO_CONTAINERS, already checked by `check_upload`.

    A rendition's name is its height, measured on the shorter side so that a portrait video's
    `720p` is 720x1280 and not 405x720. Renditions above the source are skipped, except that a
    source under 360 always gets one playable `360p` rendition at its own size. Frame rates
    above 30 fps are capped. The poster has the size of the largest rendition. `timeout` bounds
    each ffmpeg run (three of them: renditions, poster, original).
    """
    info = probe_video(path, content_type)
    if info.width * info.height > MAX_VIDEO_PIXELS:
        raise MediaRejected(f"video too large: {info.width}x{info.height} pixels")
    output_dir = Path(output_dir)
    sizes = _rendition_sizes(info.width, info.height)
    renditions = _encode_renditions(path, content_type, sizes, output_dir, timeout)
    largest = max(renditions.values(), key=lambda rendition: rendition.height * rendition.width)
    poster_size = (largest.width, largest.height)
    poster = _extract_poster(path, content_type, info.duration, poster_size, output_dir, timeout)
    original = _remux_without_metadata(path, content_type, info, output_dir, timeout)
    duration = info.duration
    if duration is None:
        duration = probe_video(largest.path, "video/mp4").duration
    return ProcessedMedia(
        kind="video",
        width=info.width,
        height=info.height,
        duration=duration,
        original=original,
        variants={"poster": poster, **renditions},
    )


def probe_video(path: str | os.PathLike, content_type: str) -> VideoInfo:
    """Display size (rotation applied) and duration in seconds (None when the container does not
    say, as with WebM from a browser's MediaRecorder) of the first video stream."""
    # ffprobe is not bundled: `ffmpeg -i` alone describes the input on stderr (and exits 1).
    probe = _run_ffmpeg(_input_args(path, content_type), timeout=FFMPEG_PROBE_TIMEOUT_SECONDS, failure=None)
    stderr = probe.stderr
    stream = re.search(r"Stream #\d+:\d+.*?: Video: (.*)", stderr)
    size = stream and re.search(r", (\d{1,5})x(\d{1,5})\b", stream.group(1))
    if not stream or not size:
        raise MediaRejected("not a decodable video", detail=_tail(stderr))
    width, height = int(size.group(1)), int(size.group(2))
    side_data = stderr[stream.end() :].split("Stream #", 1)[0]
    rotation = re.search(r"rotation of (-?\d+(?:\.\d+)?) degrees", side_data)
    if rotation and round(float(rotation.group(1))) % 180 == 90:
        width, height = height, width
    duration = re.search(r"Duration: (\d+):(\d\d):(\d\d(?:\.\d+)?)", stderr)
    seconds = None
    if duration:
        hours, minutes, secs = duration.groups()
        seconds = round(int(hours) * 3600 + int(minutes) * 60 + float(secs), 3)
    return VideoInfo(width=width, height=height, duration=seconds)


def safe_filename(name: str, default: str = "file") -> str:
    """The last path component of `name` without control or format characters (bidi overrides
    included) and with Windows-reserved characters replaced, at most 255 UTF-8 bytes, keeping
    the extension; `default` when nothing is left."""
    name = unicodedata.normalize("NFC", re.split(r"[/\\]", name)[-1])
    name = "".join(
        "_" if char in '<>:"|?*' else char
        for char in name
        if unicodedata.category(char) not in ("Cc", "Cf", "Cs", "Zl", "Zp")
    )
    name = name.strip(" .")
    if not name:
        return default
    stem, dot, extension = name.rpartition(".")
    if not dot or len(extension) > 16:
        stem, extension = name, ""
    suffix = f".{extension}" if extension else ""
    while len((stem + suffix).encode("utf-8")) > 255:
        stem = stem[:-1]
    return (stem.rstrip(" .") or default) + suffix


def content_disposition(filename: str) -> str:
    """`attachment; filename="<ASCII fallback>"; filename*=UTF-8''<percent-encoded>`
    (RFC 6266, RFC 5987) for an untrusted filename."""
    name = safe_filename(filename)
    fallback = []
    for char in unicodedata.normalize("NFKD", name):
        if char.isascii() and char.isprintable() and char not in '"\\%':
            fallback.append(char)
        elif unicodedata.category(char) != "Mn" and fallback[-1:] != ["_"]:
            fallback.append("_")
    ascii_name = "".join(fallback).strip(" .") or "file"
    encoded = urllib.parse.quote(name, safe="!#$&+-.^_`|~")
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{encoded}"


# --- signatures ---------------------------------------------------------------------------


def _base_type(content_type: str) -> str:
    return content_type.split(";", 1)[0].strip().lower()


def _is_iso_media(head: bytes) -> bool:
    return head[4:8] == b"ftyp"


def _is_quicktime(head: bytes) -> bool:
    # MP4 and QuickTime share one container; phones label them loosely, and decoding is the real test.
    return head[4:8] in _QUICKTIME_LEADING_ATOMS


def _is_webm(head: bytes) -> bool:
    return head.startswith(_EBML_MAGIC) and _ebml_doc_type(head) == b"webm"


def _ebml_doc_type(head: bytes) -> bytes | None:
    try:
        header_size, position = _read_ebml_vint(head, len(_EBML_MAGIC), keep_marker=False)
        end = min(position + header_size, len(head))
        while position < end:
            element_id, position = _read_ebml_vint(head, position, keep_marker=True)
            size, position = _read_ebml_vint(head, position, keep_marker=False)
            if element_id == _EBML_DOC_TYPE_ID:
                return head[position : position + size]
            position += size
    except IndexError:
        return None
    return None


def _read_ebml_vint(data: bytes, position: int, *, keep_marker: bool) -> tuple[int, int]:
    first = data[position]
    width = 9 - first.bit_length()
    if width > 8:
        raise IndexError("invalid EBML variable-length integer")
    value = first if keep_marker else first & (0xFF >> width)
    for byte in data[position + 1 : position + width]:
        value = value << 8 | byte
    return value, position + width


_SIGNATURE_CHECKS = {
    "image/jpeg": lambda head: head.startswith(b"\xff\xd8\xff"),
    "image/png": lambda head: head.startswith(b"\x89PNG\r\n\x1a\n"),
    "image/gif": lambda head: head[:6] in (b"GIF87a", b"GIF89a"),
    "image/webp": lambda head: head[:4] == b"RIFF" and head[8:12] == b"WEBP",
    "video/mp4": _is_iso_media,
    "video/quicktime": _is_quicktime,
    "video/webm": _is_webm,
}


# --- images -------------------------------------------------------------------------------


@dataclass(frozen=True)
class _DecodedImage:
    frames: list[Image.Image]  # oriented, RGB or RGBA, with an empty `info`
    durations: list[int]
    loop: int
    transparent: bool


def _decode_image(path: str | os.PathLike, formats: list[str] | None) -> _DecodedImage:
    from PIL import Image, ImageOps, ImageSequence

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path, formats=formats) as image:
                pixels = image.width * image.height
                if pixels > MAX_IMAGE_PIXELS:
                    raise MediaRejected(f"image too large: {image.width}x{image.height} pixels")
                # Other multi-frame images (a camera's MPO JPEG, a TIFF's pages) are read as stills.
                animated = image.format in _ANIMATED_FORMATS and getattr(image, "is_animated", False)
                if animated and getattr(image, "n_frames", 1) * pixels > MAX_ANIMATION_PIXELS:
                    raise MediaRejected("animation too large")
                frames, durations = [], []
                for frame in ImageSequence.Iterator(image) if animated else [image]:
                    frames.append(ImageOps.exif_transpose(frame))
                    durations.append(frame.info.get("duration", 0))
                loop = image.info.get("loop", 0)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise MediaRejected("image too large", detail=str(exc)) from exc
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise MediaRejected("not a decodable image", detail=str(exc)) from exc
    transparent = any(_has_transparent_pixels(frame) for frame in frames)
    mode = "RGBA" if transparent else "RGB"
    for index, frame in enumerate(frames):
        if frame.mode.startswith("I;16"):
            # Converting 16-bit samples straight to RGB clips them to 255, whitening the image.
            frame = frame.convert("I").point(lambda value: value / 256).convert("L")
        frame = frame.convert(mode) if frame.mode != mode else frame
        # Encoders copy some of `info` (ICC profile, comments, XMP) into their output.
        frame.info = {}
        frames[index] = frame
    return _DecodedImage(frames=frames, durations=durations, loop=loop, transparent=transparent)


def _has_transparent_pixels(image: Image.Image) -> bool:
    if not image.has_transparency_data:
        return False
    rgba = image if image.mode == "RGBA" else image.convert("RGBA")
    alpha_low, _ = rgba.getchannel("A").getextrema()
    return isinstance(alpha_low, int) and alpha_low < 255


def _fit_within(image: Image.Image, box: tuple[int, int]) -> Image.Image:
    from PIL import Image

    scale = min(box[0] / image.width, box[1] / image.height, 1.0)
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    if size == image.size:
        return image
    return image.resize(size, Image.Resampling.LANCZOS, reducing_gap=3.0)


def _centre_square(image: Image.Image) -> Image.Image:
    from PIL import Image

    crop = min(image.width, image.height)
    left, top = (image.width - crop) // 2, (image.height - crop) // 2
    side = min(THUMB_SIDE, crop)
    return image.resize(
        (side, side), Image.Resampling.LANCZOS, box=(left, top, left + crop, top + crop), reducing_gap=3.0
    )


def _save_still(image: Image.Image, stem: Path, jpeg_quality: int, transparent: bool) -> Rendition:
    if transparent:
        path = stem.with_suffix(".png")
        image.save(path, "PNG")
        content_type = "image/png"
    else:
        path = stem.with_suffix(".jpg")
        image.save(path, "JPEG", quality=jpeg_quality, optimize=True)
        content_type = "image/jpeg"
    return Rendition(path=path, content_type=content_type, width=image.width, height=image.height)


def _save_animation(decoded: _DecodedImage, content_type: str, path: Path) -> Rendition:
    first, *rest = decoded.frames
    options = {"quality": ORIGINAL_JPEG_QUALITY} if content_type == "image/webp" else {}
    first.save(
        path,
        IMAGE_FORMATS[content_type],
        save_all=True,
        append_images=rest,
        duration=decoded.durations,
        loop=decoded.loop,
        **options,
    )
    return Rendition(path=path, content_type=content_type, width=first.width, height=first.height)


# --- videos -------------------------------------------------------------------------------


def _run_ffmpeg(
    args: list[str], *, timeout: float, failure: str | None = "not a decodable video"
) -> subprocess.CompletedProcess:
    """Runs the bundled ffmpeg; a non-zero exit raises MediaRejected(failure) unless failure is None."""
    import imageio_ffmpeg

    command = [imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-nostdin", *args]
    try:
        result = subprocess.run(command, capture_output=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired as exc:
        raise MediaRejected("video processing took too long") from exc
    stderr = result.stderr.decode("utf-8", "replace")
    if failure is not None and result.returncode != 0:
        raise MediaRejected(failure, detail=_tail(stderr))
    return subprocess.CompletedProcess(result.args, result.returncode, result.stdout, stderr)


def _input_args(path: str | os.PathLike, content_type: str) -> list[str]:
    demuxer = _VIDEO_DEMUXERS.get(content_type)
    format_args = ["-f", demuxer] if demuxer else ["-format_whitelist", _OTHER_VIDEO_DEMUXERS]
    return ["-protocol_whitelist", "file", *format_args, "-i", f"file:{os.fspath(path)}"]


def _tail(stderr: str, lines: int = 5) -> str:
    return "\n".join(stderr.strip().splitlines()[-lines:])


def _even(value: float) -> int:
    return max(2, int(value) // 2 * 2)


def _rendition_sizes(width: int, height: int) -> dict[str, tuple[int, int]]:
    shorter = min(width, height)
    targets = {name: target for name, target in VIDEO_RENDITIONS.items() if target <= shorter}
    if not targets:
        targets = {"360p": shorter}
    sizes = {}
    for name, target in targets.items():
        scale = _even(target) / shorter
        sizes[name] = (_even(width * scale), _even(height * scale))
    return sizes


def _encode_renditions(
    path, content_type: str, sizes: dict[str, tuple[int, int]], output_dir: Path, timeout: float
) -> dict[str, Rendition]:
    # One ffmpeg run decodes the source once for every rendition.
    names = list(sizes)
    graph = f"[0:v:0]split={len(names)}" + "".join(f"[in{i}]" for i in range(len(names)))
    for i, name in enumerate(names):
        width, height = sizes[name]
        graph += f";[in{i}]scale={width}:{height},format=yuv420p[out{i}]"
    args = ["-loglevel", "error", "-y", *_input_args(path, content_type), "-filter_complex", graph]
    renditions = {}
    for i, name in enumerate(names):
        encoding = VIDEO_ENCODING[name]
        output = output_dir / f"{name}.mp4"
        args += [
            "-map", f"[out{i}]", "-map", "0:a:0?",
            "-c:v", "libx264", "-preset", "veryfast", "-crf", encoding["crf"],
            "-maxrate", encoding["maxrate"], "-bufsize", encoding["bufsize"],
            "-fpsmax", str(VIDEO_MAX_FPS),
            "-c:a", "aac", "-b:a", encoding["audio_bitrate"], "-ac", "2",
            "-map_metadata", "-1", "-map_chapters", "-1",
            "-movflags", "+faststart", "-f", "mp4", os.fspath(output),
        ]  # fmt: skip
        width, height = sizes[name]
        renditions[name] = Rendition(path=output, content_type="video/mp4", width=width, height=height)
    _run_ffmpeg(args, timeout=timeout)
    return renditions


def _extract_poster(
    path, content_type: str, duration: float | None, size: tuple[int, int], output_dir: Path, timeout: float
) -> Rendition:
    output = output_dir / "poster.jpg"
    # A frame a little into the video avoids the black first frame many recordings start with.
    for seek in (min(1.0, duration / 2) if duration else 0.0, 0.0):
        _run_ffmpeg(
            [
                "-loglevel", "error", "-y", "-ss", f"{seek:.3f}", *_input_args(path, content_type),
                "-map", "0:v:0", "-frames:v", "1", "-vf", f"scale={size[0]}:{size[1]}",
                "-q:v", "3", "-map_metadata", "-1", "-f", "image2", "-update", "1", os.fspath(output),
            ],
            timeout=timeout,
        )  # fmt: skip
        if output.exists() and output.stat().st_size > 0:
            return Rendition(path=output, content_type="image/jpeg", width=size[0], height=size[1])
    raise MediaRejected("not a decodable video: no frame could be read")


def _remux_without_metadata(
    path, content_type: str, info: VideoInfo, output_dir: Path, timeout: float
) -> Rendition:
    # A stream copy: cheap, lossless, and drops global metadata such as a phone's GPS location.
    output = output_dir / f"original{_EXTENSIONS[content_type]}"
    _run_ffmpeg(
        [
            "-loglevel", "error", "-y", *_input_args(path, content_type),
            "-map", "0:v", "-map", "0:a?", "-c", "copy",
            "-map_metadata", "-1", "-map_chapters", "-1",
            *(["-movflags", "+faststart"] if content_type != "video/webm" else []),
            "-f", VIDEO_CONTAINERS[content_type], os.fspath(output),
        ],
        timeout=timeout,
        failure=f"the video's streams cannot be stored as {content_type}",
    )  # fmt: skip
    return Rendition(path=output, content_type=content_type, width=info.width, height=info.height)


def _ensure_video_decodes(path, content_type: str) -> None:
    result = _run_ffmpeg(
        [
            "-loglevel", "error", *_input_args(path, content_type), "-map", "0:v:0", "-frames:v", "1",
            "-vf", "scale=16:16", "-pix_fmt", "gray", "-f", "rawvideo", "pipe:1",
        ],
        timeout=FFMPEG_PROBE_TIMEOUT_SECONDS,
    )  # fmt: skip
    if len(result.stdout) != 16 * 16:
        raise MediaRejected("not a decodable video: no frame could be read")
