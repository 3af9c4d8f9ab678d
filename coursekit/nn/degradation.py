"""The old name of ``coursekit.nn.learned_degradation`` (Bulat et al. 2018), kept for notebooks saved
before the rename: every attribute is the learned_degradation one, and the first one read warns. The
hand-made degradations are ``coursekit.data.degrade``.
"""

from ..deprecation import moved_module

__getattr__, __dir__ = moved_module(__name__, "coursekit.nn.learned_degradation")
