"""Times chalicelib.media_processing on synthetic photos and clips.

    .venv/bin/python bench/media_bench.py [--runs 3] [--video-seconds 10]

Photos: noisy gradients (compressing like real photos, unlike flat colours) with an EXIF
orientation, so the timing includes the rotation. Clips: ffmpeg's testsrc2 at 30 fps with a
sine tone, encoded as a phone would hand them over (H.264 + AAC in MP4). Each case runs in a
fresh process so that its peak RSS (the Lambda memory to provision) can be reported.
"""

from __future__ import annotations

import argparse
import multiprocessing
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from chalicelib import media_processing  # noqa: E402

PHOTO_SIZES = {"1 MP": (1152, 864), "4 MP": (2304, 1728), "12 MP": (4000, 3000)}
CLIP_SIZES = {"720p": (1280, 720), "1080p": (1920, 1080)}


def make_photo(path: Path, size: tuple[int, int]) -> None:
    from PIL import Image, ImageFilter

    gradient = Image.linear_gradient("L").resize(size)
    noise = Image.effect_noise(size, 60).filter(ImageFilter.GaussianBlur(1.5))
    photo = Image.merge("RGB", (gradient, noise, Image.blend(gradient, noise, 0.5)))
    exif = Image.Exif()
    exif[0x0112] = 6
    photo.save(path, "JPEG", quality=92, exif=exif.tobytes())


def make_clip(path: Path, size: tuple[int, int], seconds: int) -> None:
    import imageio_ffmpeg

    subprocess.run(
        [
            imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "error", "-y",
            "-f", "lavfi", "-i", f"testsrc2=size={size[0]}x{size[1]}:rate=30",
            "-f", "lavfi", "-i", "sine=frequency=440", "-t", str(seconds),
            "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p", "-c:a", "aac", str(path),
        ],
        check=True,
    )  # fmt: skip


def timed_runs(source: Path, content_type: str, runs: int, queue) -> None:
    timings = []
    for _ in range(runs):
        with tempfile.TemporaryDirectory() as output:
            start = time.perf_counter()
            media_processing.process_upload(source, content_type, source.stat().st_size, output)
            timings.append(time.perf_counter() - start)
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    queue.put((timings, max(own, children) / 1024))


def measure(source: Path, content_type: str, runs: int) -> tuple[float, float]:
    """Median seconds and peak RSS in MiB (this process or its largest ffmpeg child)."""
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    worker = context.Process(target=timed_runs, args=(source, content_type, runs, queue))
    worker.start()
    timings, peak_mib = queue.get()
    worker.join()
    return statistics.median(timings), peak_mib


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--video-seconds", type=int, default=10)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        for label, size in PHOTO_SIZES.items():
            source = Path(folder) / f"{size[0]}x{size[1]}.jpg"
            make_photo(source, size)
            seconds, peak = measure(source, "image/jpeg", options.runs)
            megabytes = source.stat().st_size / 1e6
            print(f"photo {label:>5} ({megabytes:.1f} MB): {seconds * 1000:6.0f} ms, peak RSS {peak:.0f} MiB")
        for label, size in CLIP_SIZES.items():
            source = Path(folder) / f"{label}.mp4"
            make_clip(source, size, options.video_seconds)
            seconds, peak = measure(source, "video/mp4", options.runs)
            megabytes = source.stat().st_size / 1e6
            per_second = seconds / options.video_seconds
            print(
                f"clip  {label:>5} {options.video_seconds} s ({megabytes:.1f} MB): {seconds:5.1f} s,"
                f" {per_second:.2f} s per second of video, peak RSS {peak:.0f} MiB"
            )


if __name__ == "__main__":
    main()
