"""Timing shared by the benchmark scripts (run them as ``python benchmarks/bench_NAME.py``)."""

import time


def best_time(fn, repeats: int) -> tuple[float, object]:
    """The fastest of ``repeats`` calls of ``fn`` in seconds, and the last call's result."""
    result, times = None, []
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return min(times), result
