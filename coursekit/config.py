"""Run profiles: one switch that sizes every notebook for CI, a CPU laptop or a GPU.

``COURSEKIT_PROFILE`` is ``smoke`` (CI: every code path in seconds), ``fast`` (a 2-core laptop, <= 5 min a
notebook), ``full`` (one Colab T4-class GPU, <= 20 min) or unset / ``auto`` (``full`` with a GPU, else
``fast``). ``COURSEKIT_SEED`` replaces the ``seed`` of a notebook whose config has one: the same experiment
on another seed, to measure the spread of a result (``benchmarks/bench_seeds.py``).
"""

from __future__ import annotations

import os
from typing import Any

from .errors import expect_choice

PROFILES = ("smoke", "fast", "full")
ENV_VAR = "COURSEKIT_PROFILE"
SEED_ENV_VAR = "COURSEKIT_SEED"


class Config(dict):
    """A dict whose keys are also attributes: ``cfg.steps`` and ``cfg["steps"]`` are the same value."""

    def __getattr__(self, key: str) -> Any:
        try:
            return self[key]
        except KeyError:
            known = ", ".join(self) or "none"
            raise AttributeError(f"config has no setting {key!r}; it has {known}") from None

    def __setattr__(self, key: str, value: Any) -> None:
        self[key] = value


def active_profile() -> str:
    """The profile this process runs in, resolving ``auto`` by whether an accelerator is present."""
    requested = os.environ.get(ENV_VAR, "auto").strip().lower() or "auto"
    expect_choice(f"{ENV_VAR} profile", requested, PROFILES + ("auto",))
    if requested != "auto":
        return requested
    from .devices import accelerator_present

    return "full" if accelerator_present() else "fast"


def profile(
    smoke: dict | None = None, fast: dict | None = None, full: dict | None = None, **common: Any
) -> Config:
    """Pick the settings of the active profile.

    ``common`` keyword arguments apply to every profile; a profile dict overrides them. A profile left out
    falls back to the next larger one that is given (smoke -> fast -> full), so a notebook can state only
    what differs. The chosen profile's name is in ``cfg.profile``.
    """
    name = active_profile()
    given = {"smoke": smoke, "fast": fast, "full": full}
    order = PROFILES[PROFILES.index(name):]
    chosen = next((given[p] for p in order if given[p] is not None), None)
    if chosen is None:
        chosen = next((given[p] for p in reversed(PROFILES) if given[p] is not None), {})
    cfg = Config(common)
    cfg.update(chosen)
    cfg["profile"] = name
    seed = os.environ.get(SEED_ENV_VAR, "").strip()
    if seed and "seed" in cfg:
        if not seed.isdigit():
            raise ValueError(f"{SEED_ENV_VAR}: expected a non-negative whole number, got {seed!r}")
        cfg["seed"] = int(seed)
    return cfg
