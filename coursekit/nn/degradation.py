"""The old name of ``coursekit.nn.learned_degradation`` (Bulat et al. 2018), kept for notebooks saved
before the rename: importing it warns, and every attribute is the learned_degradation one. The hand-made
degradations are ``coursekit.data.degrade``.
"""

import warnings

from . import learned_degradation

warnings.warn(
    "coursekit.nn.degradation is now coursekit.nn.learned_degradation: import that instead "
    "(from coursekit.nn import learned_degradation as deg)",
    DeprecationWarning,
    stacklevel=2,  # the importing line (warnings skips the import machinery's frames)
)

__all__ = learned_degradation.__all__


def __getattr__(name: str):
    """Every name of learned_degradation, e.g. ``HighToLow`` or ``high_to_low_step``."""
    return getattr(learned_degradation, name)
