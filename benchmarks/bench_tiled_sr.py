"""Tiled x4 super-resolution of a large photo on CPU with lecture 06's ESRGAN (coursekit.tiling.upscale).

1. A 3000x2000 photo (scikit-image's astronaut, bicubic-enlarged) is upscaled x4 to 12000x8000 tile by tile;
   prints the time and the peak resident memory (bar: <= 3 GB; the output alone is 12000 * 8000 * 3 floats =
   1.15 GB; an untiled run would need about 32 feature maps of that size).
2. On a 512x512 crop: the same tiled run against one untiled forward pass; prints the max abs difference
   (bar: <= 1e-4; the overlap is twice the model's receptive-field radius, so tiles see all the context).

The network is lecture 06's RRDBNet (``NETWORK``, its fast profile) with seeded random weights, or
``--weights`` (a state dict saved from the lecture); speed and memory do not depend on the weights. Times are
one run each (``best_time`` with one repeat: the large run takes minutes) on a machine that may be shared:
the load average is printed.

    OMP_NUM_THREADS=1 python benchmarks/bench_tiled_sr.py [--tile 160] [--width 3000] [--height 2000]
"""

from __future__ import annotations

import argparse
import os
import resource
import sys

from timing import best_time

NETWORK = {"scale": 4, "width": 32, "n_blocks": 2, "growth": 16}  # lecture 06's RRDBNet in its fast profile


def peak_rss_gb() -> float:
    """Peak resident set size of this process so far in GB (10^9 bytes; Linux reports ru_maxrss in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e9


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--width", type=int, default=3000)
    parser.add_argument("--height", type=int, default=2000)
    parser.add_argument("--tile", type=int, default=160, help="tile side in input pixels")
    parser.add_argument("--overlap", type=int, default=None, help="default: 2 x the receptive-field radius")
    parser.add_argument("--check-size", type=int, default=512)
    parser.add_argument("--weights", default=None, help="optional state dict of the lecture's RRDBNet")
    parser.add_argument("--threads", type=int, default=int(os.environ.get("OMP_NUM_THREADS", "1")))
    args = parser.parse_args()

    import torch
    import torch.nn.functional as F
    from skimage import data

    from coursekit.nn.esrgan import RRDBNet
    from coursekit.tiling import upscale

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    net = RRDBNet(**NETWORK).eval()
    if args.weights:
        net.load_state_dict(torch.load(args.weights, map_location="cpu", weights_only=True))
    radius = net.receptive_radius()
    overlap = args.overlap if args.overlap is not None else 2 * radius
    scale = NETWORK["scale"]
    print(
        f"RRDBNet {NETWORK} ({sum(p.numel() for p in net.parameters()):,} parameters), "
        f"receptive-field "
        f"radius {radius} px, tile {args.tile}, overlap {overlap}, {args.threads} thread(s), "
        f"load average {os.getloadavg()[0]:.2f}"
    )

    photo = torch.from_numpy(data.astronaut()).permute(2, 0, 1).float().div(255)[None]
    big = F.interpolate(photo, size=(args.height, args.width), mode="bicubic", align_corners=False).clamp(
        0, 1
    )[0]
    del photo
    before = peak_rss_gb()
    seconds, out = best_time(lambda image=big: upscale(net, image, scale, tile=args.tile, overlap=overlap), 1)
    peak = peak_rss_gb()
    print(
        f"{args.width}x{args.height} -> {out.shape[2]}x{out.shape[1]} (x{scale}): {seconds:.1f} s, "
        f"peak RSS {peak:.2f} GB (before the run {before:.2f} GB; output tensor "
        f"{out.numel() * 4 / 1e9:.2f} GB)"
    )
    ok_memory = peak <= 3.0
    del out

    crop = big[:, : args.check_size, : args.check_size].clone()
    del big
    with torch.no_grad():
        whole = net(crop[None])[0]
    tiled = upscale(net, crop, scale, tile=args.tile, overlap=overlap)
    diff = float((tiled - whole).abs().max())
    print(
        f"{args.check_size}x{args.check_size}: tiled vs untiled max abs difference {diff:.2e} (bar <= 1e-4)"
    )
    ok_diff = diff <= 1e-4
    verdict = {True: "PASS", False: "FAIL"}
    print(f"bars: peak RSS <= 3 GB {verdict[ok_memory]}; tiled == untiled {verdict[ok_diff]}")
    return 0 if ok_memory and ok_diff else 1


if __name__ == "__main__":
    sys.exit(main())
