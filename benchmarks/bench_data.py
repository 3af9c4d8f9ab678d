"""Throughput of the procedural datasets at 64x64 on 2 CPU cores; target >= 5,000 images/s.

Run: ``python benchmarks/bench_data.py [--images N]``. Prints one table row per path with images/s and the
ratio to the target. Paths:

- shapes2d DataLoader: random batches of 256 through ``DataLoader(Shapes2D(), shuffle=True)``; each batch is
  rendered in one call through ``Shapes2D.__getitems__``; in the main process, then with 2 worker processes
- shapes2d render: ``Shapes2D.sample`` (batched ``render`` of random factors)
- faces render: ``faces()`` rendering procedural faces from scratch
- faces DataLoader: random batches of 256 from a ``faces()`` dataset rendered once (what a training loop does)

Render rows are timed with 1 and with 2 torch threads. On a machine whose cores are busy with other work,
2 threads can be much slower than 1 (OpenMP threads wait for each other); the table shows both.
"""

from __future__ import annotations

import argparse
import time

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


def _loader(dataset, workers: int = 0) -> DataLoader:
    return DataLoader(
        dataset,
        batch_size=BATCH,
        shuffle=True,
        generator=torch.Generator().manual_seed(0),
        num_workers=workers,
        persistent_workers=workers > 0,
    )


def main(images: int = 8_192) -> dict[str, float]:
    batches = max(1, images // BATCH)
    count = batches * BATCH
    shapes = Shapes2D()
    face_set = faces(n=count, seed=0, source="offline")
    rates = {}
    torch.set_num_threads(1)
    rates["shapes2d DataLoader, main process, 1 thread"] = _rate(
        lambda: _drain(_loader(shapes), batches), count
    )
    two_workers = _loader(shapes, workers=2)
    rates["shapes2d DataLoader, 2 workers x 1 thread"] = _rate(lambda: _drain(two_workers, batches), count)
    for threads in (1, 2):
        torch.set_num_threads(threads)
        rates[f"shapes2d render (sample), {threads} thread(s)"] = _rate(
            lambda: shapes.sample(images, 1), images
        )
        rates[f"faces render (procedural), {threads} thread(s)"] = _rate(
            lambda: faces(n=images, seed=1, source="offline"), images
        )
    torch.set_num_threads(1)
    rates["faces DataLoader (rendered once), 1 thread"] = _rate(
        lambda: _drain(_loader(face_set), batches), count
    )
    print(f"\n{'path':<48} {'images/s':>10} {'vs target':>10}   (target {TARGET:,} images/s)")
    for name, rate in rates.items():
        print(f"{name:<48} {rate:>10,.0f} {rate / TARGET:>9.2f}x")
    return rates


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=8_192, help="images per timed run")
    main(parser.parse_args().images)
