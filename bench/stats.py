"""Percentiles and medians. A message that arrived too late to wait for counts as slower than any other
(math.inf)."""
import math
import statistics


def percentile(values: list[float], fraction: float) -> float:
    """Nearest-rank percentile: the smallest value at or above `fraction` of the sample."""
    ordered = sorted(values)
    return ordered[max(1, math.ceil(fraction * len(ordered))) - 1]


def latency_summary(seconds: list[float]) -> dict:
    """p50, p95, p99 and max in milliseconds, with the sample size and how many came too late to wait for."""
    milliseconds = [value * 1000 for value in seconds]
    return {"n": len(milliseconds), "late": sum(math.isinf(value) for value in milliseconds),
            "p50": percentile(milliseconds, 0.50), "p95": percentile(milliseconds, 0.95),
            "p99": percentile(milliseconds, 0.99), "max": max(milliseconds)}


def median_summary(summaries: list[dict]) -> dict:
    """Per field, the median over runs (sample sizes and late messages are added up instead)."""
    merged = {key: statistics.median(summary[key] for summary in summaries) for key in summaries[0]}
    merged.update(n=sum(s["n"] for s in summaries), late=sum(s["late"] for s in summaries), runs=len(summaries))
    return merged
