"""What the parts of media_processing share: the refusal, the results, the handled types."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

IMAGE_FORMATS = {"image/jpeg": "JPEG", "image/png": "PNG", "image/gif": "GIF", "image/webp": "WEBP"}
VIDEO_CONTAINERS = {"video/mp4": "mp4", "video/quicktime": "mov", "video/webm": "webm"}

EXTENSIONS = {
    "image/jpeg": ".jpg",
    "image/png": ".png",
    "image/gif": ".gif",
    "image/webp": ".webp",
    "video/mp4": ".mp4",
    "video/quicktime": ".mov",
    "video/webm": ".webm",
}


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
