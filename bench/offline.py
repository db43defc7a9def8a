"""Benchmarks that need no stack, run before it starts so that they have the cores to themselves: the
cold-start import ratio (with deploy/coldstart.py's timer) and media processing (bench/media_bench.py)."""
import statistics
import subprocess
import sys
from pathlib import Path

from deploy import coldstart

ROOT = Path(__file__).resolve().parent.parent
MEDIA_COMMAND = [sys.executable, "bench/media_bench.py", "--runs", "1", "--video-seconds", "2"]


def coldstart_ratio(runs: int) -> dict:
    """`import app` against `import boto3`, each in fresh interpreters as a new Lambda container would,
    alternating so that both meet the same machine."""
    env = coldstart.lambda_environment()
    codes = {module: coldstart.TIMER.format(module=module) for module in ("boto3", "app")}
    for code in codes.values():
        coldstart.time_code(code, env)  # warms the file cache and writes __pycache__, as coldstart does
    times: dict[str, list[float]] = {module: [] for module in codes}
    for _ in range(runs):
        for module, code in codes.items():
            times[module].append(coldstart.time_code(code, env))
    medians = {module: statistics.median(seconds) * 1000 for module, seconds in times.items()}
    return {"runs": runs, "boto3_ms": medians["boto3"], "app_ms": medians["app"],
            "ratio": medians["app"] / medians["boto3"], "target": coldstart.TARGET_RATIO}


def media_timings() -> dict:
    answer = subprocess.run(MEDIA_COMMAND, cwd=ROOT, capture_output=True, text=True, check=True)
    return {"command": " ".join(["python", *MEDIA_COMMAND[1:]]), "lines": answer.stdout.splitlines()}
