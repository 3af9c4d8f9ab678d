"""Speed and agreement of coursekit.metrics.mig vs the per-pair scikit-learn recipe of disentanglement_lib.

The factors are the whole shapes2d grid (737,280 samples x 5 factors: shape 3, scale 6, orientation 40,
pos_x 32, pos_y 32); the 10 latents are fixed random mixtures of the factors plus noise (some latents
aligned with one factor, some mixing several), as an encoder's means would be. The reference is
disentanglement_lib's ``_compute_mig``: ``np.digitize`` on ``np.histogram`` edges per latent, then
``sklearn.metrics.mutual_info_score`` for each of the 10 x 5 (latent, factor) pairs and each factor's
entropy. coursekit discretises all latents at once and gets all 50 joint histograms from one bincount.

    OMP_NUM_THREADS=1 python benchmarks/bench_mig.py [--latents 10] [--repeats 3]
"""

from __future__ import annotations

import argparse
import os

from timing import best_time


def make_inputs(num_latents: int, seed: int = 0):
    """(latents (737280, L) float32, factors (737280, 5) int64) from the full shapes2d factor grid."""
    import numpy as np

    import coursekit as ck

    shapes = ck.data.shapes2d()
    factors = shapes.factors(np.arange(len(shapes))).numpy()
    rng = np.random.default_rng(seed)
    scaled = factors / (np.array(shapes.factor_sizes) - 1.0)
    mixing = rng.normal(size=(factors.shape[1], num_latents))
    mixing[:, : factors.shape[1]] += 4.0 * np.eye(factors.shape[1])  # the first latents lean on one factor
    latents = scaled @ mixing + 0.2 * rng.normal(size=(len(factors), num_latents))
    return latents.astype(np.float32), factors


def reference_mig(latents, factors) -> float:
    """disentanglement_lib's MIG, one sklearn call per (latent, factor) pair."""
    import numpy as np
    from sklearn.metrics import mutual_info_score

    codes = [np.digitize(x, np.histogram(x, 20)[1][:-1]) for x in latents.T]
    mi = np.array([[mutual_info_score(f, c) for f in factors.T] for c in codes])
    entropy = np.array([mutual_info_score(f, f) for f in factors.T])
    ranked = np.sort(mi, axis=0)[::-1]
    return float(np.mean((ranked[0] - ranked[1]) / entropy))


def main(argv: list[str] | None = None) -> str:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latents", type=int, default=10, help="number of latents (default 10)")
    parser.add_argument("--repeats", type=int, default=3, help="timed repeats, best kept (default 3)")
    args = parser.parse_args(argv)

    from coursekit import metrics

    latents, factors = make_inputs(args.latents)
    ours_time, ours = best_time(lambda: metrics.mig(latents, factors), args.repeats)
    ref_time, ref = best_time(lambda: reference_mig(latents, factors), max(1, args.repeats - 2))
    lines = [
        f"MIG of {latents.shape[0]:,} samples x {latents.shape[1]} latents x {factors.shape[1]} factors; "
        f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}, {os.cpu_count()} CPUs, "
        f"load average {os.getloadavg()[0]:.1f} at the end; best of the repeats",
        "",
        "| implementation | MIG | seconds | speed-up |",
        "|---|---|---|---|",
        f"| coursekit.metrics.mig | {ours:.12f} | {ours_time:.3f} | {ref_time / ours_time:.1f}x |",
        f"| disentanglement_lib recipe, sklearn per pair | {ref:.12f} | {ref_time:.3f} | 1.0x |",
        "",
        f"absolute difference {abs(ours - ref):.1e}",
    ]
    table = "\n".join(lines)
    print(table)
    return table


if __name__ == "__main__":
    main()
