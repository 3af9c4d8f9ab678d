"""Build every widget lecture 01 (lectures/01_vae.ipynb) builds, drive each control once, check the picture.

The lecture shows a training dashboard for each of its five models (``train_model``: autoencoder 784-400-20,
autoencoder with a 2-d code, MLP VAE, VAE with a 2-d code, conv VAE) and a latent traversal with one slider
per dimension of the conv VAE. Here the same calls run with the same models on a few random batches (weights
barely trained: what is checked is the widgets, not the models). Every dashboard's Stop button is clicked
during ``fit`` and must stop it after the redrawn picture has changed; every traversal slider is moved and
must change the image. Prints one line per widget, ``ok <name> (ipywidgets X.Y.Z): <what was checked>``, and
exits 1 if any fails.

Needs only coursekit, torch, numpy, ipywidgets and the standard library (no kernel, no pytest), e.g.

    PYTHONPATH=build/ipywidgets7 .venv/bin/python tests/colab/build_lecture01_widgets.py
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
import traceback

os.environ.setdefault("COURSEKIT_PROFILE", "smoke")
os.environ.setdefault("COURSEKIT_OFFLINE", "1")
os.environ["COURSEKIT_WIDGETS"] = "live"  # as in a notebook with a widget front end (this has no kernel)

import ipywidgets
import torch

import coursekit as ck
from coursekit import losses
from coursekit.nn import vae
from coursekit.ui import base as ui_base

SIZE, BATCH, STEPS, STOP_AT = 28, 16, 30, 12  # the smoke profile's ae_steps; redraws every 5 steps
VERSION = f"ipywidgets {ipywidgets.__version__}"
IMAGES = torch.rand(4 * BATCH, 1, SIZE, SIZE, generator=torch.Generator().manual_seed(0))  # stand-in digits
LOADER = [(batch, torch.zeros(len(batch), dtype=torch.long)) for batch in IMAGES.split(BATCH)]


class Screen:
    """Stands in for IPython's display: keeps what is shown and the updates of each display handle."""

    def __init__(self):
        self.shown, self.updates = [], []

    def display(self, obj, display_id=False):
        self.shown.append(obj)
        return self if display_id else None

    def update(self, obj):
        self.updates.append(obj)


def check(condition: bool, message: str) -> None:
    if not condition:
        raise AssertionError(message)


def dashboard_run(title, model, loss_fn, sample_fn=None, metrics=("loss",)):
    """The lecture's ``train_model`` (same dashboard arguments), with a click on Stop at step STOP_AT."""
    screen = Screen()
    ui_base.display = screen.display
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    dashboard = ck.ui.TrainingDashboard(metrics=metrics, sample_fn=sample_fn, every=max(STEPS // 20, 5),
                                        title=title)
    click = lambda step, logs: step == STOP_AT and dashboard.stop_button.click()
    with contextlib.redirect_stdout(io.StringIO()) as printed:
        result = ck.train.fit(ck.train.vae_step(model, optimizer, loss_fn), LOADER, steps=STEPS, models=model,
                              optimizers=optimizer, callbacks=[dashboard, click], seed=0, desc=title,
                              progress=False)
    model.eval()
    done = len(result.history["step"])
    check(result.stop_reason == "stopped" and done == STOP_AT + 1,
          f"the Stop click did not stop fit at step {STOP_AT + 1}: {result.stop_reason} after {done} steps")
    check(f"Stopped at step {done} of {STEPS}" in printed.getvalue(), f"fit printed {printed.getvalue()!r}")
    check(dashboard.stop_button.disabled, "the Stop button was not disabled after the click")
    boxes = [obj for obj in screen.shown if isinstance(obj, ipywidgets.HBox)]
    check(len(boxes) == 1 and dashboard.status in boxes[0].children, f"no controls shown: {screen.shown}")
    pictures = [screen.shown[-1].data] + [update.data for update in screen.updates]
    check(len(set(pictures)) == len(pictures) >= 3, "the picture was not redrawn as the losses came")
    check(pictures[-1] == dashboard.png, "the last picture shown is not the dashboard's final figure")
    return f"{len(pictures) - 1} redraws, the Stop click ended fit after step {done}"


def traversal(model, anchor):
    """The lecture's latent traversal: one slider per latent dimension, each moved to the far end once."""

    def decode_code(**code):
        z = torch.tensor([[code[f"z{j}"] for j in range(model.z_dim)]])
        return model.decode(z).cpu()

    start = anchor.clamp(-3, 3).cpu()
    sliders = {f"z{j}": (-3.0, 3.0, 0.1, round(float(start[j]), 1)) for j in range(model.z_dim)}
    title = "conv VAE: one slider per latent dimension"
    widget = ck.ui.image_slider(decode_code, title=title, **sliders)
    check(not widget.static and widget.widget is not None, "the traversal is static, not a widget")
    check(list(widget.sliders) == list(sliders), f"sliders {list(widget.sliders)}, expected {list(sliders)}")
    for name, slider in widget.sliders.items():
        before = widget.image.value
        slider.value = -3.0 if slider.value > 0 else 3.0
        check(widget.image.value != before, f"moving slider {name} did not change the image")
        check(widget.image.value == ck.ui.image_to_png(decode_code(**widget.values)),
              f"after moving {name} the image is not the decoded code")
    return f"{len(widget.sliders)} sliders, each re-rendered the image"


def main() -> int:
    ck.seed(0)
    test_digits, fixed_z = IMAGES[:8], torch.randn(16, 20)
    bce = lambda recon, x: losses.bernoulli_nll(recon, x, reduction="mean")

    autoencoder = vae.MLPAutoencoder(size=SIZE, z_dim=20)
    autoencoder_2d = vae.MLPAutoencoder(size=SIZE, z_dim=2)
    mlp_vae, vae_2d = vae.MLPVAE(size=SIZE, z_dim=20), vae.MLPVAE(size=SIZE, z_dim=2)
    conv_vae = vae.ConvVAE(size=SIZE, channels=1, z_dim=20)
    elbo = ("loss", "recon", "kl")
    builds = {
        "dashboard 'autoencoder 784-400-20'": lambda: dashboard_run(
            "autoencoder 784-400-20", autoencoder, bce,
            lambda: torch.cat([test_digits, autoencoder(test_digits)]),
        ),
        "dashboard 'autoencoder with a 2-d code'": lambda: dashboard_run(
            "autoencoder with a 2-d code", autoencoder_2d, bce
        ),
        "dashboard 'MLP VAE 784-400-20'": lambda: dashboard_run(
            "MLP VAE 784-400-20 (pytorch/examples)", mlp_vae, losses.elbo_terms,
            lambda: mlp_vae.decode(fixed_z), elbo,
        ),
        "dashboard 'VAE with a 2-d code'": lambda: dashboard_run(
            "VAE with a 2-d code", vae_2d, losses.elbo_terms, metrics=elbo
        ),
        "dashboard 'conv VAE'": lambda: dashboard_run(
            "conv VAE", conv_vae, losses.elbo_terms, lambda: conv_vae.decode(fixed_z), elbo
        ),
        "latent traversal": lambda: traversal(conv_vae, conv_vae.encode(test_digits[:1])[0][0].detach()),
    }
    failures = 0
    for name, build in builds.items():
        try:
            print(f"ok {name} ({VERSION}): {build()}", flush=True)
        except Exception:  # report every widget, then fail
            failures += 1
            print(f"FAIL {name} ({VERSION}):\n{traceback.format_exc()}", flush=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
