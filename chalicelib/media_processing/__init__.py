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

The parts live in submodules: `common` (the refusal, the result types and the handled types),
`signatures` (magic-byte checks), `images` (Pillow) and `videos` (ffmpeg); this package holds the
entry points callers use.

Pillow and imageio_ffmpeg are imported inside the functions that need them: this module is
imported by Lambda handlers whose cold start should not pay for them.
"""

from __future__ import annotations

import os
import re
import unicodedata
import urllib.parse

from chalicelib.media_processing.common import (
    IMAGE_FORMATS,
    VIDEO_CONTAINERS,
    MediaRejected,
    ProcessedMedia,
    Rendition,
)
from chalicelib.media_processing.images import decode_image, process_image
from chalicelib.media_processing.signatures import SIGNATURE_CHECKS, SNIFF_BYTES, base_type
from chalicelib.media_processing.videos import ensure_video_decodes, probe_video, process_video

__all__ = [
    "MediaRejected",
    "ProcessedMedia",
    "Rendition",
    "check_upload",
    "content_disposition",
    "media_kind",
    "probe_video",
    "process_upload",
    "safe_filename",
]


def media_kind(content_type: str) -> str:
    """The kind, "image", "video" or "file", of a declared content type (parameters ignored)."""
    base = base_type(content_type)
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
    base = base_type(content_type)
    signature_check = SIGNATURE_CHECKS.get(base)
    if signature_check is not None:
        with open(path, "rb") as upload:
            head = upload.read(SNIFF_BYTES)
        if not signature_check(head):
            raise MediaRejected(f"content does not match the declared type {base}")
    return media_kind(base)


def process_upload(
    path: str | os.PathLike, content_type: str, declared_size: int, output_dir: str | os.PathLike
) -> ProcessedMedia:
    """Validates an upload and writes its renditions into `output_dir` (an existing directory)."""
    kind = check_upload(path, content_type, declared_size)
    base = base_type(content_type)
    if kind == "image":
        return process_image(path, base, output_dir)
    if kind == "video":
        return process_video(path, base, output_dir)
    if base.startswith("image/"):
        decode_image(path, formats=None)
    elif base.startswith("video/"):
        ensure_video_decodes(path, base)
    return ProcessedMedia(kind="file")


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
