"""Videos: probed and transcoded with the ffmpeg binary bundled in imageio-ffmpeg.

imageio_ffmpeg is imported inside the function that runs ffmpeg (cold start).
"""

from __future__ import annotations

import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

from chalicelib.media_processing.common import EXTENSIONS, VIDEO_CONTAINERS, MediaRejected, ProcessedMedia, Rendition

VIDEO_RENDITIONS = {"360p": 360, "720p": 720}
VIDEO_MAX_FPS = 30
VIDEO_ENCODING = {
    "360p": {"crf": "26", "maxrate": "1M", "bufsize": "2M", "audio_bitrate": "96k"},
    "720p": {"crf": "24", "maxrate": "3M", "bufsize": "6M", "audio_bitrate": "128k"},
}
MAX_VIDEO_PIXELS = 7680 * 4320
FFMPEG_TIMEOUT_SECONDS = 600
FFMPEG_PROBE_TIMEOUT_SECONDS = 60
# ffmpeg demuxer per declared type: naming it skips format probing, which could otherwise pick
# a playlist demuxer (HLS, concat) that opens other files named inside the upload.
_VIDEO_DEMUXERS = {"video/mp4": "mov", "video/quicktime": "mov", "video/webm": "matroska"}
_OTHER_VIDEO_DEMUXERS = "mov,matroska,avi,mpegts,mpeg,flv,ogg,asf"


@dataclass(frozen=True)
class VideoInfo:
    width: int
    height: int
    duration: float | None


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
    output = output_dir / f"original{EXTENSIONS[content_type]}"
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


def ensure_video_decodes(path, content_type: str) -> None:
    result = _run_ffmpeg(
        [
            "-loglevel", "error", *_input_args(path, content_type), "-map", "0:v:0", "-frames:v", "1",
            "-vf", "scale=16:16", "-pix_fmt", "gray", "-f", "rawvideo", "pipe:1",
        ],
        timeout=FFMPEG_PROBE_TIMEOUT_SECONDS,
    )  # fmt: skip
    if len(result.stdout) != 16 * 16:
        raise MediaRejected("not a decodable video: no frame could be read")
