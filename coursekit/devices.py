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


def autocast(dev=None, enabled: bool = True):
    """Mixed-precision context for the device: float16 on CUDA, bfloat16 on CPU only when asked, else a no-op.

    CPU autocast is slower than float32 on most laptops, so ``enabled`` is honoured only on CUDA/MPS.
    """
    import torch

    dev = torch.device(dev) if dev is not None else device()
    if not enabled or dev.type == "cpu":
        return contextlib.nullcontext()
    dtype = torch.float16
    return torch.autocast(device_type=dev.type, dtype=dtype)


def grad_scaler(dev=None):
    """A GradScaler that is active on CUDA only (float16 needs loss scaling; other devices do not)."""
    import torch

    dev = torch.device(dev) if dev is not None else device()
    return torch.amp.GradScaler(device="cuda", enabled=dev.type == "cuda")
