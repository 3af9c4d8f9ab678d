"""The spread of a lecture's lesson over seeds: run the lecture in a profile once per seed and tabulate the
numbers its lesson rests on (mean, range, and whether the lesson held on every seed).

    python benchmarks/bench_seeds.py 03 --seeds 0 1 2 [--profile fast] [--jobs 2] [--threads 1]

Each run executes ``lectures/NN_*.ipynb`` from scratch with ``COURSEKIT_SEED`` (which replaces the notebook's
``cfg.seed``), offline, widgets static; the lesson's numbers are read from the printed output with the
module's pattern below. ``--threads`` sets each kernel's torch threads (OMP_NUM_THREADS; float rounding,
hence training, differs between thread counts, another source of spread). The reference the table
compares against is the lesson itself: the margin of the lesson on each seed, against the spread of each
number over the seeds.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import nbclient
import nbformat

ROOT = Path(__file__).resolve().parent.parent
# module -> (patterns, each with named groups for numbers, the lesson's margin (> 0: it held), its wording)
LESSONS = {
    "00": ((r"margin \(> 0: the claim holds\): loss first 10 - last 10 (?P<loss_fall>[-+\d.]+)",
            r"margin \(> 0: the claim holds\): test PSNR autoencoder - mean digit - 3 dB "
            r"(?P<psnr_db>[-+\d.]+)"),
           lambda n: n["psnr_db"], "test PSNR (dB) of the tiny autoencoder - mean digit - 3 (loss_fall: mean "
           "training loss of the first 10 steps - the last 10)"),
    "01": ((r"VAE - autoencoder samples: digit score (?P<score_gap>[-+\d.]+), share confident "
            r"(?P<confident_gap>[-+\d.]+), confidence (?P<confidence_gap>[-+\d.]+)",),
           lambda n: n["score_gap"], "digit score of random samples: VAE - autoencoder (asserted > 2)"),
    "02": ((r"margins \(> 0: the claim holds\): ring modes - 6 (?P<ring_modes>[-+\d]+); "
            r"gradient ratio - 10 (?P<grad_ratio>[-+\d.]+); toy 0.3 - \|mean - 3\| (?P<toy_mean>[-+\d.]+); "
            r"toy 0.3 - \|std - 1\| (?P<toy_std>[-+\d.]+); toy 0.15 - \|D - 1/2\| (?P<toy_d>[-+\d.]+); "
            r"digit Frechet half the start - last (?P<fd_half>[-+\d.]+); "
            r"digit Frechet first checkpoint - min of the last two (?P<fd_fall>[-+\d.]+)",),
           lambda n: n["toy_d"], "1-D GAN: 0.15 - |D - 1/2| on the data region, the thinnest asserted claim "
           "(the other asserted margins are the columns toy_mean, toy_std, grad_ratio, fd_half, fd_fall; "
           "ring_modes = modes covered by the balanced ring GAN - 6, printed, not asserted)"),
    "03": ((r"MIG: plain VAE \(beta = 1\) (?P<vae>[\d.]+) +vs +"
            r"beta-VAE \(beta = \d+\) (?P<beta_vae>[\d.]+)",),
           lambda n: n["beta_vae"] - n["vae"], "MIG(beta-VAE, the lecture's largest beta) - MIG(VAE)"),
    "04": ((r"^ +all +(?P<edit_success>[\d.]+)% of",),
           lambda n: n["edit_success"] - 80.0, "edits detected (%) - 80 (the bar)"),
    "05": ((r"margins \(> 0: the claim holds\): SRResNet - bicubic - 0.5 dB (?P<resnet_db>[-+\d.]+); "
            r"SRCNN - bicubic \(dB\) (?P<srcnn_db>[-+\d.]+); SRResNet - SRGAN \(dB\) (?P<gan_db>[-+\d.]+); "
            r"sharpness SRGAN - SRResNet (?P<gan_sharp>[-+\d.]+); "
            r"sharpness SRGAN - VGG only (?P<adv_sharp>[-+\d.]+)",),
           lambda n: n["gan_sharp"], "sharpness SRGAN - SRResNet (the other claims' margins are the columns: "
           "resnet_db = PSNR SRResNet - bicubic - 0.5 dB, srcnn_db, gan_db = PSNR SRResNet - SRGAN; "
           "adv_sharp = sharpness SRGAN - VGG-only control)"),
    "06": ((r"Frechet: learned pipeline (?P<fd_learned>[\d.]+), bicubic-trained (?P<fd_bicubic>[\d.]+), "
            r"noise-augmented bicubic (?P<fd_noisy>[\d.]+)",),
           lambda n: n["fd_bicubic"] - n["fd_learned"],
           "Frechet(bicubic-trained L2H) - Frechet(learned H2L + L2H) (fd_noisy: the control, L2H trained on "
           "bicubic + random blur and noise)"),
    "07": ((r"3D-GAN samples: confidence (?P<gan_conf>[\d.]+) vs untrained G (?P<untrained>[\d.]+); "
            r"margin over the bar max\(0.15, 10 x untrained\) (?P<over_bar>[-+\d.]+); "
            r"fill (?P<fill>[\d.]+)",),
           lambda n: n["over_bar"],
           "classifier confidence on 3D-GAN samples - max(0.15, 10 x untrained G's)"),
    "08": ((r"^mean fill +\| +(?P<mf_c>[\d.]+) dB +(?P<mf_c_ssim>-?[\d.]+) \| +(?P<mf_i>[\d.]+) dB "
            r"+(?P<mf_i_ssim>-?[\d.]+)",
            r"^PG-GAN +\| +(?P<pg_c>[\d.]+) dB +(?P<pg_c_ssim>-?[\d.]+) \| +(?P<pg_i>[\d.]+) dB "
            r"+(?P<pg_i_ssim>-?[\d.]+)"),
           lambda n: min(n["pg_c"] - n["mf_c"], n["pg_i"] - n["mf_i"]) - 1.0,
           "hole PSNR (dB) PG-GAN - mean fill - 1, the smaller of the two masks "
           "(c: centre hole, i: brush strokes)"),
    "09": ((r"Table 1 margins: inpainting SSIM GAN - TV (?P<inp_ssim>[-+\d.]+), denoising PSNR TV - GAN "
            r"(?P<den_db>[-+\d.]+) dB, quantization PSNR TV - GAN (?P<quant_db>[-+\d.]+) dB",
            r"lambda 0 control: inpainting SSIM GAN\(lambda 0\) - TV (?P<z_inp_ssim>[-+\d.]+), "
            r"denoising PSNR TV - GAN\(lambda 0\) (?P<z_den_db>[-+\d.]+) dB, "
            r"quantization PSNR TV - GAN\(lambda 0\) (?P<z_quant_db>[-+\d.]+)",
            r"^inpainting: \|y - A\(x\)\| (?P<inp_w>[\d.]+) -> (?P<inp_wp>[\d.]+) -> (?P<inp_wpp>[\d.]+);",
            r"^denoising: \|y - A\(x\)\| (?P<den_w>[\d.]+) -> (?P<den_wp>[\d.]+) -> (?P<den_wpp>[\d.]+);"),
           lambda n: n["inp_ssim"],
           "inpainting SSIM, GAN prior - TV (the thinnest of Table 1's three margins; the two PSNR "
           "margins, in dB, are the columns den_db and quant_db)"),
    "10": ((r"on R: latent translation (?P<latent_db>[\d.]+) dB / [\d.]+ +vs +"
            r"direct repair (?P<direct_db>[\d.]+)",
            r"mask control \(no method gets a mask\): on R latent translation "
            r"(?P<nomask_latent_db>[\d.]+) dB vs direct repair (?P<nomask_direct_db>[\d.]+) dB; "
            r"latent - direct (?P<nomask_lead_db>[-+\d.]+) dB",
            r"mask control \(every method gets the mask\): on R latent translation [\d.]+ dB vs "
            r"direct repair \+ mask (?P<masked_direct_db>[\d.]+) dB; "
            r"latent - direct (?P<masked_lead_db>[-+\d.]+) dB"),
           lambda n: n["latent_db"] - n["direct_db"],
           "PSNR on R (dB): latent translation - direct repair (the mask control: nomask_* with an all-zero "
           "mask for every method, masked_* with direct repair given the mask as a 4th channel; the latent "
           "route's number in that arm is latent_db)"),
    "11": ((r"margins \(> 0: the claim holds\): total loss fall - 5 \(x\) (?P<total_fall>[-+\d.]+); "
            r"style loss start / end - 1 (?P<style_fall>[-+\d.]+)",
            r"margin \(> 0: the claim holds\): fast stylizer loss fall - 2 \(x\) (?P<fast_fall>[-+\d.]+)"),
           lambda n: n["total_fall"], "Gram-matrix transfer: total loss start / end - 5 (the asserted "
           "bar), the smallest over the three photos (style_fall: style loss start / end - 1, the smallest "
           "over the photos; fast_fall: the fast stylizer's loss fall - 2)"),
}


def run(number: str, seed: int, profile: str, threads: int = 1) -> dict[str, float]:
    """Execute the lecture with this seed and read the lesson's numbers from its printed output."""
    path = next((ROOT / "lectures").glob(f"{number}_*.ipynb"))
    nb = nbformat.read(path, as_version=4)
    env = {**os.environ, "COURSEKIT_PROFILE": profile, "COURSEKIT_SEED": str(seed), "COURSEKIT_OFFLINE": "1",
           "COURSEKIT_WIDGETS": "static", "MPLBACKEND": "Agg", "OMP_NUM_THREADS": str(threads)}
    nbclient.NotebookClient(nb, timeout=1800, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}}).execute(env=env)
    text = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []))
    numbers = {}
    for pattern in LESSONS[number][0]:
        match = re.search(pattern, text, re.M)
        if match is None:
            raise ValueError(f"lecture {number}, seed {seed}: expected output matching {pattern!r}, "
                             "found none")
        numbers |= {k: float(v) for k, v in match.groupdict().items()}
    return numbers


def table(number: str, results: dict[int, dict[str, float]]) -> str:
    """Per seed the numbers and the margin; then mean and range of each, and the verdict."""
    _, margin_of, wording = LESSONS[number]
    names = list(next(iter(results.values())))
    header = f"{'seed':>6} " + " ".join(f"{n:>10}" for n in names) + "     margin"
    lines = [f"lecture {number}: {wording}", header]
    for seed, numbers in sorted(results.items()):
        lines.append(f"{seed:>6} " + " ".join(f"{numbers[n]:>10.3f}" for n in names)
                     + f" {margin_of(numbers):>10.3f}")
    margins = [margin_of(n) for n in results.values()]
    for label, values in [(n, [r[n] for r in results.values()]) for n in names] + [("margin", margins)]:
        lines.append(f"{label:>10}: mean {statistics.mean(values):.3f}, "
                     f"range {min(values):.3f} - {max(values):.3f}")
    held = sum(m > 0 for m in margins)
    lines.append(f"the lesson held on {held} of {len(margins)} seeds; smallest margin {min(margins):.3f}")
    return "\n".join(lines)


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("module", choices=sorted(LESSONS))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--profile", default="fast", choices=("smoke", "fast", "full"))
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1, help="torch threads per kernel (OMP_NUM_THREADS)")
    args = parser.parse_args(argv)
    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        numbers = list(pool.map(lambda s: run(args.module, s, args.profile, args.threads), args.seeds))
    print(table(args.module, dict(zip(args.seeds, numbers, strict=True))))


if __name__ == "__main__":
    main(sys.argv[1:])
