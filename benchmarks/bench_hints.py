"""How many typical wrong answers get a hint from ``check_close`` without a hand-written detector.

Every value in the store of expected values (``solutions/expected`` or ``coursekit/grading/expected``,
wherever ``coursekit.grading.store`` reads them) is turned into wrong answers by typical transformations:
a factor 2 or 1/2, [0, 255] for [0, 1], ln for log10, a sum over the batch for a mean (the batch size of the
test's inputs), a mean for a sum over the latents/pixels/channels, a flipped sign, PSNR with a peak of 255
(+48.13 dB), a constant offset, swapped last axes, channels-last, another order along axis 0, the mean of the
values instead of all of them, one optimizer step too many (training results only), and, as controls that
must get no hint, 1% noise, 30% relative noise and unrelated random values. Each wrong answer goes through
``check_close`` with the tolerances its lab test uses (read from the solution notebooks) in three modes:

- ``generic``: the message before this change (no diagnosis, no hand-written detector): "expected X, got Y";
- ``diagnose``: the automatic diagnoses, nothing passed by the test;
- ``+sizes``: what a lab test can add: ``sizes=`` (the table ``SIZES`` below, read off the test inputs) and,
  for a training result, ``mistakes={...: g.matches(value after one more step)}``.

A hint is right when it states the transformation (e.g. "x 16" or "batch" for a sum over a batch of 16) and
named when, besides, it names the mistake rather than "a constant factor/offset". The transformations are
applied to the stored values, so every wrong answer is exactly that mistake; a real wrong answer may mix
mistakes, and a hand-written detector stays first when a test has one.

    OMP_NUM_THREADS=1 python benchmarks/bench_hints.py [--seed 0] [--details]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]

# Sizes of each test's inputs, read off the solution notebooks' test cells (lab/key -> sizes). These are the
# lab tests that would name a factor with `sizes=` instead of "a constant factor".
SIZES: dict[str, dict[str, int]] = {
    "01/kl": {"batch": 6, "latents": 20},
    "01/kl_wide": {"batch": 50, "latents": 8},
    "01/elbo": {"batch": 8, "pixels": 784, "latents": 20},
    "01/elbo_binary": {"batch": 5, "pixels": 784, "latents": 20},
    "01/samples_64": {"pixels": 784},
    "02/d_loss": {"batch": 16},
    "02/g_loss": {"batch": 16},
    "02/d_loss_grad_real": {"batch": 15},
    "02/d_loss_grad_fake": {"batch": 15},
    "02/g_loss_grad_rejected": {"batch": 8},
    "04/ez_loss": {"batch": 6, "latents": 100},
    "05/content": {"batch": 2, "channels": 8, "positions": 24},
    "05/content_grad": {"channels": 3, "positions": 25},
    "05/content_rect": {"batch": 3, "channels": 2, "positions": 21},
    "06/ra_d_loss": {"batch": 8},
    "06/ra_g_loss": {"batch": 8},
    "06/ra_d_grad_fake": {"batch": 4},
    "06/ra_g_grad_fake": {"batch": 8},
    "07/loss_d": {"batch": 12},
    "07/loss_g": {"batch": 12},
    "07/accuracy": {"decisions": 10},
    "08/g_loss": {"batch": 4, "pixels": 192},
    "08/g_loss_grad_global": {"batch": 2},
    "09/objective": {"pixels": 768},
    "10/latent_d": {"scores": 36},
    "10/latent_grad_r": {"batch": 5},
    "10/latent_grad_x": {"batch": 7},
    "11/gram": {"positions": 30, "channels": 4},
    "11/gram_hidden": {"positions": 21, "channels": 6},
    "11/style_loss": {"layers": 2},
    "11/content_loss": {"elements": 120},
    "11/content_loss_hidden": {"layers": 2},
    "11/train_step_batch_loss": {"batch": 2},
}

# Results of optimizer steps: a wrong answer may be the value one step later (a missing zero_grad).
TRAINING = re.compile(r"^(02/train_|06/h2l_|07/adaptive_(d_weight|g_weight|losses)|09/step_|10/mapping_"
                      r"|11/train_step_)")


def tolerances() -> dict[str, tuple[float, float]]:
    """lab/key -> (rtol, atol) of its ``check_close`` call in the solution notebooks (defaults otherwise)."""
    found = {}
    call = re.compile(r'check_close\(\\?"(\d\d)\\?", \\?"(\w+)\\?"(.*)')
    for notebook in sorted((ROOT / "solutions").glob("*.ipynb")):
        for cell in json.loads(notebook.read_text())["cells"]:
            for line in "".join(cell.get("source", [])).splitlines():
                match = call.search(line)
                if match:
                    rtol = re.search(r"rtol=([0-9.e-]+)", match.group(3))
                    atol = re.search(r"atol=([0-9.e-]+)", match.group(3))
                    found[f"{match.group(1)}/{match.group(2)}"] = (float(rtol.group(1)) if rtol else 1e-4,
                                                                 float(atol.group(1)) if atol else 1e-5)
    return found


Transform = Callable[[np.ndarray, dict[str, int], np.random.Generator], "np.ndarray | None"]


def _reduced_size(sizes: dict[str, int]) -> tuple[str, int] | None:
    return next(((k, n) for k, n in sizes.items() if k != "batch"), None)


def _step(want: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The value after one more small optimizer step: each entry moves by about 1% of the typical entry."""
    scale = float(np.abs(want).mean()) or 1.0
    return want + 0.01 * scale * rng.normal(size=want.shape)


def _reorder(want, sizes, rng):
    if want.ndim == 0 or want.shape[0] < 2:
        return None
    order = np.roll(np.arange(want.shape[0]), 1)
    return want[order]


# (name, transformation (returns None where it does not apply), the patterns of a right hint, a mistake (True)
# or a control (False: any hint is a false one)).
TRANSFORMS: list[tuple[str, Transform, Callable[[np.ndarray, dict[str, int]], list[str]], bool]] = [
    ("x 2 (a missing 1/2)", lambda w, s, r: 2 * w, lambda w, s: [r"x 2\b"], True),
    ("/ 2 (an extra 1/2)", lambda w, s, r: w / 2, lambda w, s: [r"/ 2\b"], True),
    ("x 255 ([0, 255] for [0, 1])", lambda w, s, r: 255 * w, lambda w, s: ["x 255:"], True),
    ("x ln 10 (ln for log10)", lambda w, s, r: math.log(10) * w, lambda w, s: ["ln 10"], True),
    ("x batch (sum for mean over the batch)", lambda w, s, r: w * s["batch"] if "batch" in s else None,
     lambda w, s: [rf"x {s['batch']}\b", "batch"], True),
    ("/ latents etc. (mean for sum)", lambda w, s, r: w / _reduced_size(s)[1] if _reduced_size(s) else None,
     lambda w, s: [rf"/ {_reduced_size(s)[1]}\b", _reduced_size(s)[0]], True),
    ("sign flip", lambda w, s, r: -w, lambda w, s: ["sign is flipped"], True),
    ("+ 48.13 dB (PSNR peak 255)", lambda w, s, r: w + 20 * math.log10(255), lambda w, s: ["48.13"], True),
    ("+ 0.5 (a constant term)", lambda w, s, r: w + 0.5, lambda w, s: [r"\+ 0\.5000"], True),
    ("last two axes swapped", lambda w, s, r: np.swapaxes(w, -1, -2) if w.ndim >= 2 and w.shape[-1] > 1
     and w.shape[-2] > 1 else None, lambda w, s: ["transpose", r"\.T"], True),
    ("channels-last (B, H, W, C)", lambda w, s, r: np.transpose(w, (0, 2, 3, 1)) if w.ndim == 4 else None,
     lambda w, s: ["channels-last", "transpose", r"\.T"], True),
    ("another order along axis 0", _reorder, lambda w, s: ["another order", "reversed along axis 0"], True),
    ("the mean instead of every value", lambda w, s, r: np.array(w.mean()) if w.size > 1 else None,
     lambda w, s: ["mean of the expected values"], True),
    ("one optimizer step too many", None, lambda w, s: ["optimizer step"], True),
    ("control: 1% noise", lambda w, s, r: w + 0.01 * (np.abs(w).mean() or 1) * r.normal(size=w.shape),
     lambda w, s: [], False),
    ("control: 30% relative noise", lambda w, s, r: w * (1 + 0.3 * r.normal(size=w.shape)) + 1e-3 * r.normal(
        size=w.shape), lambda w, s: [], False),
    ("control: random values", lambda w, s, r: (np.abs(w).mean() or 1) * r.normal(size=w.shape),
     lambda w, s: [], False),
]
GENERIC = re.compile(r"\(a constant (factor|offset):")  # an unnamed factor or offset: right, not named
STEP_HINT = "one optimizer step too many: gradients accumulated? call zero_grad() before each backward()"


def _message(lab, key, got, rtol, atol, **kwargs) -> str | None:
    from coursekit import grading as g

    try:
        g.check_close(lab, key, got, rtol=rtol, atol=atol, **kwargs)
    except AssertionError as exc:
        return str(exc)
    return None


def _read(file: Path) -> dict[str, np.ndarray]:
    with np.load(file, allow_pickle=False) as data:
        return {k: data[k] for k in data.files}


MODES = ("generic", "diagnose", "+sizes")


def _measure(labs: dict[str, dict[str, np.ndarray]], rng: np.random.Generator,
             details: list[str] | None) -> dict[str, dict[str, list[int]]]:
    """``counts[transform][mode] = [cases, hinted, right, named]``; the store points at a scratch folder."""
    from coursekit import grading as g
    from coursekit.grading import checks, store

    counts = {name: {m: [0, 0, 0, 0] for m in MODES} for name, *_ in TRANSFORMS}
    tol = tolerances()
    real_diagnose = checks.diagnose
    for lab, values in labs.items():
        store.write(lab, values)
    for lab, values in labs.items():
        for key, want in values.items():
            name_key = f"{lab}/{key}"
            sizes = SIZES.get(name_key, {})
            rtol, atol = tol.get(name_key, (1e-4, 1e-5))
            want = want.astype(np.float64)
            step_value = _step(want, rng) if TRAINING.match(name_key) else None
            extra: dict = {"sizes": sizes} if sizes else {}
            if step_value is not None:
                extra["mistakes"] = {STEP_HINT: g.matches(step_value, rtol=rtol, atol=atol)}
            for name, transform, accepted, _ in TRANSFORMS:
                wrong = step_value if transform is None else transform(want, sizes, rng)
                if wrong is None:
                    continue
                checks.diagnose = lambda *a, **k: None
                try:
                    before = _message(lab, key, wrong, rtol, atol)
                finally:
                    checks.diagnose = real_diagnose
                if before is None:
                    continue  # the transformation left the answer right (e.g. x 2 of zeros)
                messages = (before, _message(lab, key, wrong, rtol, atol),
                            _message(lab, key, wrong, rtol, atol, **extra))
                for mode, message in zip(MODES, messages, strict=True):
                    hint = message[len(before):].removeprefix(": ") if message.startswith(before) else ""
                    row = counts[name][mode]
                    row[0] += 1
                    row[1] += bool(hint)
                    right = bool(hint) and any(re.search(f, hint) for f in accepted(want, sizes))
                    row[2] += right
                    row[3] += right and not GENERIC.search(hint)
                    if details is not None and mode == "diagnose":
                        details.append(f"{name_key:32s} {name:38s} {hint or '-'}")
    return counts


def _share(row: list[int], column: int) -> str:
    return f"{row[column]}/{row[0]} ({100 * row[column] / row[0]:.0f}%)" if row[0] else "-"


def _row(name: str, counts: dict[str, list[int]]) -> str:
    cells = [_share(counts["generic"], 1), _share(counts["diagnose"], 1), _share(counts["diagnose"], 2),
             _share(counts["diagnose"], 3), _share(counts["+sizes"], 2), _share(counts["+sizes"], 3)]
    return "| " + " | ".join([name, *cells]) + " |"


def run(seed: int = 0, details: bool = False) -> str:
    """Measure and print the table (with ``details``, one line per wrong answer with its diagnosis)."""
    from coursekit.grading import store

    source = store.store_dir()
    labs = {file.stem: _read(file) for file in sorted(source.glob("[0-9][0-9].npz"))}
    saved = {k: os.environ.get(k) for k in (store.DIR_ENV, store.RECORD_ENV)}
    listing: list[str] | None = [] if details else None
    with tempfile.TemporaryDirectory() as tmp:
        os.environ[store.DIR_ENV] = tmp
        os.environ.pop(store.RECORD_ENV, None)
        try:
            counts = _measure(labs, np.random.default_rng(seed), listing)
        finally:
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value
    lines = [f"{sum(len(v) for v in labs.values())} stored values of {len(labs)} labs from {source}; "
             f"seed {seed}", "",
             "| wrong answer | generic: any hint | diagnose: any hint | diagnose: right | diagnose: named "
             "| +sizes: right | +sizes: named |", "|---|---|---|---|---|---|---|"]
    totals = {kind: {m: [0, 0, 0, 0] for m in MODES} for kind in (True, False)}
    for name, _, _, mistake in TRANSFORMS:
        for m in MODES:
            totals[mistake][m] = [a + b for a, b in zip(totals[mistake][m], counts[name][m], strict=True)]
        lines.append(_row(name, counts[name]))
    lines.append(_row("**all mistakes**", totals[True]))
    lines.append(_row("**all controls (any hint is a false hint)**", totals[False]))
    table = "\n".join(lines + ([""] + listing if listing is not None else []))
    print(table)
    return table


def main(argv: list[str] | None = None) -> str:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0, help="seed of the noise and step transformations")
    parser.add_argument("--details", action="store_true", help="list the diagnose hint of every wrong answer")
    args = parser.parse_args(argv)
    return run(args.seed, args.details)


if __name__ == "__main__":
    main()
