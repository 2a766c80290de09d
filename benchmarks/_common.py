"""Helpers shared by the benchmark scripts (timing with medians)."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable


def run_times(fn: Callable[[], object], repeat: int = 5, warmup: int = 1) -> list[float]:
    """Wall times of ``repeat`` runs of ``fn`` after ``warmup`` untimed ones [s]."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return times


def median_time(fn: Callable[[], object], repeat: int = 5, warmup: int = 1) -> float:
    """Median wall time of ``fn`` over ``repeat`` runs [s]."""
    return statistics.median(run_times(fn, repeat, warmup))


def rate(n: float, seconds: float) -> str:
    return f"{n / seconds:,.0f}/s"
