"""Speed and agreement of coursekit.metrics against skimage.metrics on scikit-image's bundled photos.

A batch of random RGB crops (default 32 of 256x256) from the photos is distorted (Gaussian noise for half,
Gaussian blur for the other half). coursekit computes SSIM/PSNR for the whole batch in one call; skimage
loops over the images. The table gives the time per image (best of ``--repeats``), the ratio
skimage / coursekit (> 1: coursekit is faster) and the largest absolute difference from skimage in float64.

    OMP_NUM_THREADS=2 python benchmarks/bench_metrics.py [--n 32] [--size 256] [--threads 2]
"""

from __future__ import annotations

import argparse
import os

from timing import best_time

PHOTOS = ("astronaut", "chelsea", "coffee", "rocket", "cat")


def make_batch(n: int, size: int, seed: int = 0):
    """(clean, distorted) float64 numpy batches (n, size, size, 3) in [0, 1]."""
    import numpy as np
    from scipy.ndimage import gaussian_filter
    from skimage import data

    rng = np.random.default_rng(seed)
    photos = [getattr(data, name)().astype(np.float64) / 255.0 for name in PHOTOS]
    clean, dirty = [], []
    for i in range(n):
        photo = photos[i % len(photos)]
        top = rng.integers(0, photo.shape[0] - size + 1)
        left = rng.integers(0, photo.shape[1] - size + 1)
        crop = photo[top : top + size, left : left + size]
        if i % 2:
            distorted = gaussian_filter(crop, (1.0 + rng.random(), 1.0 + rng.random(), 0))
        else:
            distorted = np.clip(crop + rng.normal(0.0, 0.02 + 0.08 * rng.random(), crop.shape), 0.0, 1.0)
        clean.append(crop)
        dirty.append(distorted)
    return np.stack(clean), np.stack(dirty)


def run(n: int, size: int, repeats: int) -> list[dict]:
    import numpy as np
    import torch
    from skimage.metrics import peak_signal_noise_ratio, structural_similarity

    from coursekit import metrics

    clean, dirty = make_batch(n, size)

    def sk_ssim(a, b):
        return structural_similarity(
            a,
            b,
            data_range=1.0,
            channel_axis=2,
            gaussian_weights=True,
            sigma=1.5,
            use_sample_covariance=False,
        )

    def sk_psnr(a, b):
        return peak_signal_noise_ratio(a, b, data_range=1.0)

    reference = {
        "SSIM": np.array([sk_ssim(a, b) for a, b in zip(clean, dirty, strict=True)]),
        "PSNR": np.array([sk_psnr(a, b) for a, b in zip(clean, dirty, strict=True)]),
    }
    ours = {"SSIM": metrics.ssim, "PSNR": metrics.psnr}
    theirs = {"SSIM": sk_ssim, "PSNR": sk_psnr}
    rows = []
    for name in ("SSIM", "PSNR"):
        for dtype, np_dtype in ((torch.float32, np.float32), (torch.float64, np.float64)):
            x = torch.from_numpy(clean).permute(0, 3, 1, 2).to(dtype).contiguous()
            y = torch.from_numpy(dirty).permute(0, 3, 1, 2).to(dtype).contiguous()
            ours[name](x[:2], y[:2])  # warm-up
            ours_time, values = best_time(lambda f=ours[name], x=x, y=y: f(x, y, reduction="none"), repeats)
            a, b = clean.astype(np_dtype), dirty.astype(np_dtype)
            sk_time, _ = best_time(
                lambda f=theirs[name], a=a, b=b: [f(p, q) for p, q in zip(a, b, strict=True)], repeats
            )
            rows.append(
                dict(
                    metric=name,
                    dtype=str(dtype).replace("torch.", ""),
                    ours_ms=1000 * ours_time / n,
                    skimage_ms=1000 * sk_time / n,
                    ratio=sk_time / ours_time,
                    max_diff=float(np.max(np.abs(values.double().numpy() - reference[name]))),
                )
            )
    return rows


def format_table(rows: list[dict], n: int, size: int, threads: int) -> str:
    lines = [
        f"{n} RGB images {size}x{size}, {threads} threads, {os.cpu_count()} CPUs, load average "
        f"{os.getloadavg()[0]:.1f} at the end; time per image, best of the repeats",
        "",
        "| metric | dtype | coursekit ms/img | skimage ms/img | skimage / coursekit "
        "| max abs diff (skimage f64) |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['metric']} | {r['dtype']} | {r['ours_ms']:.2f} | {r['skimage_ms']:.2f} | "
            f"{r['ratio']:.2f}x | {r['max_diff']:.1e} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> str:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=32, help="number of images (default 32)")
    parser.add_argument("--size", type=int, default=256, help="crop side in pixels (default 256)")
    parser.add_argument("--threads", type=int, default=2, help="torch/OpenMP threads (default 2)")
    parser.add_argument("--repeats", type=int, default=3, help="timed repeats, best kept (default 3)")
    args = parser.parse_args(argv)
    os.environ.setdefault("OMP_NUM_THREADS", str(args.threads))
    import torch

    torch.set_num_threads(args.threads)
    table = format_table(run(args.n, args.size, args.repeats), args.n, args.size, args.threads)
    print(table)
    return table


if __name__ == "__main__":
    main()
