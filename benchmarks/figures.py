"""Percentiles and rates."""

import math


def percentile(values: list[float], share: float) -> float | None:
    """The nearest-rank percentile: ``share`` 0.99 is p99."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def summary_ms(values: list[float]) -> dict[str, float | None]:
    """p50, p99 and max of seconds, in milliseconds."""

    def scale(value: float | None) -> float | None:
        return None if value is None else round(value * 1000, 2)

    return {
        "p50_ms": scale(percentile(values, 0.5)),
        "p99_ms": scale(percentile(values, 0.99)),
        "max_ms": scale(max(values) if values else None),
        "samples": len(values),
    }


def rate(count: int, seconds: float) -> float:
    return round(count / seconds, 1) if seconds > 0 else math.inf
