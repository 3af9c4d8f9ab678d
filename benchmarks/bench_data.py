"""Throughput of the procedural datasets at 64x64 on 2 CPU threads; target >= 5,000 images/s.

Run: ``python benchmarks/bench_data.py [--images N]``. Prints one table row per path with images/s and the
ratio to the target. Paths:

- shapes2d DataLoader: random batches of 256 through ``DataLoader(Shapes2D(), shuffle=True)``, which renders
  each batch in one call through ``Shapes2D.__getitems__``
- shapes2d render: ``Shapes2D.sample`` (batched ``render`` of random factors)
- faces render: ``faces()`` rendering procedural faces from scratch
- faces DataLoader: random batches of 256 from a ``faces()`` dataset rendered once (what a training loop does)
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("OMP_NUM_THREADS", "2")

import torch
from torch.utils.data import DataLoader

from coursekit.data.faces import faces
from coursekit.data.shapes2d import Shapes2D

TARGET = 5_000
BATCH = 256


def _rate(run, images: int, repeats: int = 3) -> float:
    """Best-of-``repeats`` images/s of ``run()`` (which produces ``images`` images); one warm-up first."""
    run()
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - start)
    return images / best


def _drain(loader: DataLoader, batches: int) -> None:
    for i, (images, _) in enumerate(loader):
        assert images.shape[-2:] == (64, 64)
        if i + 1 == batches:
            break


def main(images: int = 8_192) -> dict[str, float]:
    torch.set_num_threads(2)
    batches = max(1, images // BATCH)
    shapes = Shapes2D()
    shape_loader = DataLoader(
        shapes, batch_size=BATCH, shuffle=True, generator=torch.Generator().manual_seed(0)
    )
    face_set = faces(n=batches * BATCH, seed=0, source="offline")
    face_loader = DataLoader(
        face_set, batch_size=BATCH, shuffle=True, generator=torch.Generator().manual_seed(0)
    )
    rates = {
        "shapes2d DataLoader (batched __getitems__)": _rate(
            lambda: _drain(shape_loader, batches), batches * BATCH
        ),
        "shapes2d render (Shapes2D.sample)": _rate(lambda: shapes.sample(images, seed=1), images),
        "faces render (procedural, from scratch)": _rate(
            lambda: faces(n=images, seed=1, source="offline"), images
        ),
        "faces DataLoader (rendered once)": _rate(lambda: _drain(face_loader, batches), batches * BATCH),
    }
    print(
        f"\n{'path':<44} {'images/s':>10} {'vs target':>10}   (target {TARGET:,}/s, {torch.get_num_threads()} threads)"
    )
    for name, rate in rates.items():
        print(f"{name:<44} {rate:>10,.0f} {rate / TARGET:>9.2f}x")
    return rates


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=8_192, help="images per timed run")
    main(parser.parse_args().images)
