"""How much a Lambda cold start pays to import Parley: `import app` against `import boto3` alone.

    python -m deploy.coldstart [--runs 9] [--top 15] [--no-bytecode-cache] [--check]

Each measurement is a fresh interpreter (as a new Lambda container is) that times one import with
`time.perf_counter()`, so interpreter start-up is left out of both. The app is imported the way Lambda
imports the handler module, with every variable `.chalice/config.json` sets holding a dummy value. The
medians are compared with the target of issue 8: importing app.py may cost at most 1.25x importing boto3.

Bytecode: by default both imports read the `__pycache__` that the first (untimed) run writes. Chalice
ships no .pyc files and /var/task is read-only, so on Lambda the app's own modules and its dependencies
compile on every cold start; `--no-bytecode-cache` measures that case (for both imports, so boto3 pays
it too, although the Lambda runtime's boto3 is precompiled: a pessimistic ratio).

`--top N` lists the N heaviest modules the app imports that boto3 alone does not (from `-X importtime`),
which is where to look when the ratio is over the target.
"""
import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET_RATIO = 1.25
TIMER = "import time; t = time.perf_counter(); import {module}; print(time.perf_counter() - t)"
# Informational: what the first WebSocket frame adds (the services and their boto3 clients, built lazily).
FIRST_FRAME = ("import time; t = time.perf_counter(); import app; from chalicelib.services import services; "
               "services(); import chalicelib.socket_api; app.socket_api(); print(time.perf_counter() - t)")


def lambda_environment() -> dict[str, str]:
    """The process environment of a deployed function, with dummy values for the stack's outputs."""
    sys.path.insert(0, str(ROOT))
    from deploy.outputs import REQUIRED_OUTPUTS, env_name

    env = {key: value for key, value in os.environ.items() if not key.startswith(("PYTHON", "AWS_"))}
    env.update({env_name(key): f"dummy-{key}" for key in REQUIRED_OUTPUTS})  # a stage without CloudFront
    env.update(AWS_REGION="us-east-1", AWS_DEFAULT_REGION="us-east-1", AWS_ACCESS_KEY_ID="dummy",
               AWS_SECRET_ACCESS_KEY="dummy", AWS_LAMBDA_FUNCTION_NAME="parley-coldstart",
               POWERTOOLS_LOG_LEVEL="INFO", PYTHONPATH=str(ROOT))
    return env


def time_code(code: str, env: dict[str, str]) -> float:
    answer = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                            check=True)
    return float(answer.stdout.strip().splitlines()[-1])


def measure(code: str, runs: int, env: dict[str, str]) -> list[float]:
    time_code(code, env)  # warms the OS file cache (and writes __pycache__ unless disabled)
    return [time_code(code, env) for _ in range(runs)]


def heaviest(env: dict[str, str], top: int) -> list[tuple[str, float]]:
    """Top-level packages `import app` loads that `import boto3` does not, by the cumulative time of their
    first (costly) import in `-X importtime`."""
    def packages(module: str) -> dict[str, int]:
        answer = subprocess.run([sys.executable, "-X", "importtime", "-c", f"import {module}"], cwd=ROOT, env=env,
                                capture_output=True, text=True, check=True)
        costs: dict[str, int] = {}
        for line in answer.stderr.splitlines():
            if not line.startswith("import time:") or "cumulative" in line:
                continue
            _self, cumulative, name = line[len("import time:"):].split("|")
            root = name.strip().split(".")[0]
            costs[root] = max(costs.get(root, 0), int(cumulative))
        return costs

    with_app, with_boto3 = packages("app"), packages("boto3")
    only_app = {name: cost for name, cost in with_app.items() if name not in with_boto3 and name != "app"}
    return [(name, cost / 1000) for name, cost in sorted(only_app.items(), key=lambda item: -item[1])[:top]]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m deploy.coldstart", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=9, help="fresh interpreters per import (default 9)")
    parser.add_argument("--top", type=int, default=10, help="list the N heaviest imports only the app makes")
    parser.add_argument("--no-bytecode-cache", action="store_true",
                        help="compile every module on import, as Lambda does for the app's package")
    parser.add_argument("--check", action="store_true", help=f"exit 1 when the ratio is over {TARGET_RATIO}")
    args = parser.parse_args(argv)

    env = lambda_environment()
    with tempfile.TemporaryDirectory() as empty_cache:
        if args.no_bytecode_cache:
            env = {**env, "PYTHONPYCACHEPREFIX": empty_cache, "PYTHONDONTWRITEBYTECODE": "1"}
        boto3_times = measure(TIMER.format(module="boto3"), args.runs, env)
        app_times = measure(TIMER.format(module="app"), args.runs, env)
        try:
            first_frame = statistics.median(measure(FIRST_FRAME, args.runs, env))
        except subprocess.CalledProcessError as error:  # the app's internals moved: this line is a bonus
            first_frame, why = None, (error.stderr or "").strip().splitlines()[-1:]
        ranking = heaviest(env, args.top) if args.top else []

    boto3_median, app_median = statistics.median(boto3_times), statistics.median(app_times)
    ratio = app_median / boto3_median
    print(f"python {sys.version.split()[0]}, {args.runs} fresh interpreters each"
          f"{', no bytecode cache' if args.no_bytecode_cache else ''}")
    print(f"import boto3  median {boto3_median * 1000:7.1f} ms  (min {min(boto3_times) * 1000:.1f}, "
          f"max {max(boto3_times) * 1000:.1f})")
    print(f"import app    median {app_median * 1000:7.1f} ms  (min {min(app_times) * 1000:.1f}, "
          f"max {max(app_times) * 1000:.1f})")
    if first_frame is not None:
        print(f"import app + build its services and clients (a first frame's lazy imports, informational): "
              f"median {first_frame * 1000:.1f} ms")
    else:
        print(f"(could not time a first frame's lazy imports: {' '.join(why)})")
    verdict = "within" if ratio <= TARGET_RATIO else "OVER"
    print(f"ratio app/boto3 = {ratio:.2f}  ({verdict} the {TARGET_RATIO}x target)")
    if ranking:
        print("heaviest imports the app makes that boto3 alone does not (cumulative ms, one run):")
        for name, cost in ranking:
            print(f"  {cost:8.1f}  {name}")
    return 1 if args.check and ratio > TARGET_RATIO else 0


if __name__ == "__main__":
    sys.exit(main())
