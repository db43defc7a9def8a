"""Images: decoded with Pillow, oriented, stripped of metadata, resized into variants.

Pillow is imported inside the functions that need it (cold start).
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from chalicelib.media_processing.common import EXTENSIONS, IMAGE_FORMATS, MediaRejected, ProcessedMedia, Rendition

if TYPE_CHECKING:
    from PIL import Image

MAX_IMAGE_PIXELS = 50_000_000
# Bounds the frames of an animation kept in memory at once (4 bytes a pixel).
MAX_ANIMATION_PIXELS = 100_000_000
THUMB_SIDE = 96
IMAGE_BOXES = {"small": (320, 240), "large": (800, 600)}
ORIGINAL_JPEG_QUALITY = 90
VARIANT_JPEG_QUALITY = 82
_ANIMATED_FORMATS = {"GIF", "PNG", "WEBP"}


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
    decoded = decode_image(path, formats=[IMAGE_FORMATS[content_type]])
    output_dir = Path(output_dir)
    first = decoded.frames[0]
    if len(decoded.frames) > 1:
        original = _save_animation(decoded, content_type, output_dir / f"original{EXTENSIONS[content_type]}")
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


@dataclass(frozen=True)
class _DecodedImage:
    frames: list[Image.Image]  # oriented, RGB or RGBA, with an empty `info`
    durations: list[int]
    loop: int
    transparent: bool


def decode_image(path: str | os.PathLike, formats: list[str] | None) -> _DecodedImage:
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
