"""Devices: pick the best accelerator (cuda > mps > cpu), mixed precision, and where we run (Colab or not)."""

from __future__ import annotations

import contextlib
import os
import sys

from .errors import expect_choice

DEVICE_ENV_VAR = "COURSEKIT_DEVICE"


def on_colab() -> bool:
    """True inside Google Colab (its kernel module is importable only there)."""
    return "google.colab" in sys.modules or bool(os.environ.get("COLAB_RELEASE_TAG"))


def accelerator_present() -> bool:
    """True when torch sees a CUDA or Apple-MPS device. Works without importing torch if torch is absent."""
    try:
        import torch
    except ImportError:
        return False
    mps = getattr(torch.backends, "mps", None)
    return torch.cuda.is_available() or bool(mps and mps.is_available())


def device(prefer: str | None = None):
    """The torch device to use: ``COURSEKIT_DEVICE`` or ``prefer`` if given, else cuda > mps > cpu."""
    import torch

    wanted = prefer or os.environ.get(DEVICE_ENV_VAR)
    if wanted:
        expect_choice("device", wanted.split(":")[0], ("cpu", "cuda", "mps"))
        return torch.device(wanted)
    if torch.cuda.is_available():
        return torch.device("cuda")
    mps = getattr(torch.backends, "mps", None)
    if mps and mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def describe_device(dev=None) -> str:
    """One phrase for the device: the GPU's name and memory, or the CPU's thread count."""
    import torch

    dev = torch.device(dev) if dev is not None else device()
    if dev.type == "cuda":
        props = torch.cuda.get_device_properties(dev)
        return f"cuda ({props.name}, {props.total_memory / 2**30:.1f} GB)"
    if dev.type == "mps":
        return "mps (Apple GPU)"
    return f"cpu ({torch.get_num_threads()} threads)"


def mixed_precision_dtype(dev=None):
    """The half-precision type for ``dev``: bfloat16 where the GPU computes in it, else float16; None on CPU.

    bfloat16 keeps float32's exponent range, so it needs no loss scaling; CUDA GPUs before compute
    capability 8.0 (a Colab T4 is 7.5) have no bfloat16 arithmetic and get float16 with a GradScaler.
    Apple GPUs get float16. The CPU gets None: CPU autocast is slower than float32 on most laptops.
    """
    import torch

    dev = torch.device(dev) if dev is not None else device()
    if dev.type == "cuda":
        major, _minor = torch.cuda.get_device_capability(dev)
        return torch.bfloat16 if major >= 8 else torch.float16
    if dev.type == "mps":
        return torch.float16
    return None


def autocast(dev=None, enabled: bool = True):
    """Mixed-precision context for ``dev`` in :func:`mixed_precision_dtype`'s type; a no-op on CPU or if not
    ``enabled``. Pair it with :func:`grad_scaler` for the backward pass."""
    import torch

    dev = torch.device(dev) if dev is not None else device()
    dtype = mixed_precision_dtype(dev) if enabled else None
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type=dev.type, dtype=dtype)


def needs_loss_scaling(dev=None) -> bool:
    """True where autocast computes in float16 on CUDA: float16's narrow range needs loss scaling, bfloat16
    and float32 do not."""
    import torch

    dev = torch.device(dev) if dev is not None else device()
    return dev.type == "cuda" and mixed_precision_dtype(dev) == torch.float16


def grad_scaler(dev=None):
    """A GradScaler that is active only where :func:`needs_loss_scaling` (a no-op pass-through elsewhere)."""
    import torch

    return torch.amp.GradScaler(device="cuda", enabled=needs_loss_scaling(dev))
