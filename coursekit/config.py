"""Run profiles: one switch that sizes every notebook for CI, a CPU laptop or a GPU.

``COURSEKIT_PROFILE`` is ``smoke`` (CI: every code path in seconds), ``fast`` (a 2-core laptop, <= 5 min a
notebook), ``full`` (one Colab T4-class GPU, <= 20 min) or unset / ``auto`` (``full`` with a GPU, else
``fast``). ``COURSEKIT_SEED`` replaces the ``seed`` of a notebook whose config has one: the same experiment
on another seed, to measure the spread of a result (``benchmarks/bench_seeds.py``).

``COURSEKIT_MAX_STEPS=N`` makes a *dry run* of any profile: every step count in the config (``steps``,
``*_steps``, ``*_iters``, ``d_warmup``; tuples element-wise; snapshot lists cut) is capped at N and every
set size (``n``, ``n_*``, ``*_n``, ``restarts``) at ``SET_CAP``, while every size (image size, widths,
depths, batch, latent sizes, VGG layer) stays the profile's. It proves that the profile's shapes run end to
end (``make test-full`` runs ``full`` on the CPU this way); nothing it trains has learned, so
:func:`checks_learning` is false and the notebooks skip the asserts that check learning.
"""

from __future__ import annotations

import os
import re
from typing import Any

from .errors import expect_choice

PROFILES = ("smoke", "fast", "full")
ENV_VAR = "COURSEKIT_PROFILE"
SEED_ENV_VAR = "COURSEKIT_SEED"
MAX_STEPS_ENV_VAR = "COURSEKIT_MAX_STEPS"
SET_CAP = 256  # a dry run's largest data / evaluation set: enough for every batch size the profiles use
STEP_KEY = re.compile(r"^(steps|.+_steps|.+_iters|d_warmup)$")
SET_KEY = re.compile(r"^(n|n_.+|.+_n|restarts)$")


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
    given = {p: d for p, d in (("smoke", smoke), ("fast", fast), ("full", full)) if d is not None}
    order = PROFILES[PROFILES.index(name):]
    chosen = next((given[p] for p in order if p in given), None)
    if chosen is None:
        chosen = next((given[p] for p in reversed(PROFILES) if p in given), {})
    cfg = Config(common)
    cfg.update(chosen)
    cfg["profile"] = name
    seed = _whole_number_env(SEED_ENV_VAR, minimum=0)
    if seed is not None and "seed" in cfg:
        cfg["seed"] = seed
    max_steps = max_steps_cap()
    if max_steps is not None:
        changes: list[str] = []
        _cap_in_place(cfg, max_steps, changes)
        print(
            f"DRY RUN ({MAX_STEPS_ENV_VAR}={max_steps}): profile {name} at its full sizes, but "
            f"{', '.join(changes) or 'no setting'} capped; nothing here has learned, and the asserts that "
            "check learning are skipped."
        )
    cfg["dry_run"] = max_steps is not None
    return cfg


def max_steps_cap() -> int | None:
    """The dry-run step cap from ``COURSEKIT_MAX_STEPS`` (a whole number >= 1), or None when unset."""
    return _whole_number_env(MAX_STEPS_ENV_VAR, minimum=1)


def dry_run_steps(steps: int) -> int:
    """``steps`` capped at the dry-run cap when ``COURSEKIT_MAX_STEPS`` is set: what every training or
    optimisation loop in coursekit runs (also those whose count does not come from ``ck.profile``)."""
    cap = max_steps_cap()
    return steps if cap is None else min(steps, cap)


def checks_learning(cfg: Config, what: str) -> bool:
    """Whether this run can check a learning result (``what``, e.g. "SRResNet beats bicubic by 0.5 dB").

    False in ``smoke`` and in a dry run (``COURSEKIT_MAX_STEPS``): too few steps for anything to have been
    learned. Then one line names the check that is skipped, so a reader knows what this run did not prove.
    Asserts that check code (shapes, parameter counts, finite values) are never put behind this.
    """
    if cfg.get("profile") == "smoke" or cfg.get("dry_run"):
        why = "dry run" if cfg.get("dry_run") else "smoke profile"
        print(f"learning check skipped ({why}): {what}")
        return False
    return True


def _whole_number_env(var: str, minimum: int) -> int | None:
    text = os.environ.get(var, "").strip()
    if not text:
        return None
    if not text.isdigit() or int(text) < minimum:
        raise ValueError(f"{var}: expected a whole number >= {minimum}, got {text!r}")
    return int(text)


def _cap_in_place(settings: dict, max_steps: int, changes: list[str], prefix: str = "") -> None:
    """Cap the step counts and set sizes of ``settings`` (nested dicts too), noting each change."""
    for key, value in list(settings.items()):
        if isinstance(value, dict):
            _cap_in_place(value, max_steps, changes, prefix=f"{prefix}{key}.")
            continue
        if key == "snapshots" and isinstance(value, (tuple, list)):
            capped = type(value)(v for v in value if v <= max_steps)
        elif STEP_KEY.match(key):
            capped = _capped(value, max_steps)
        elif SET_KEY.match(key):
            capped = _capped(value, SET_CAP)
        else:
            continue
        if capped != value:
            settings[key] = capped
            changes.append(f"{prefix}{key} {value}->{capped}")


def _capped(value, cap: int):
    """``value`` capped at ``cap``: an int, or a tuple / list of ints element-wise; else unchanged."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return min(value, cap)
    if isinstance(value, (tuple, list)) and all(isinstance(v, int) for v in value):
        return type(value)(_capped(v, cap) for v in value)
    return value
