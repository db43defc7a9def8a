"""`python -m bench [--smoke] [--only SCENARIO,...] [--name NAME]`: run the suite, write
bench/results/latest.{json,md} (or NAME.{json,md}: a partial run beside the full suite's results)."""
import argparse

from bench import report, suite
from bench.plan import FULL, SMOKE


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--smoke", action="store_true", help="a tiny plan that runs in under a minute")
    parser.add_argument("--only", default=",".join(suite.SCENARIOS),
                        help=f"comma-separated scenarios out of {', '.join(suite.SCENARIOS)} (default: all)")
    parser.add_argument("--name", default="latest",
                        help="write bench/results/NAME.{json,md} (default: latest)")
    args = parser.parse_args()
    selected = set(args.only.split(","))
    unknown = selected - set(suite.SCENARIOS)
    if unknown:
        parser.error(f"unknown scenarios: {', '.join(sorted(unknown))}")
    results = suite.run(SMOKE if args.smoke else FULL, selected)
    for path in report.write(results, name=args.name):
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
