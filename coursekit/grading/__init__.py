"""Labs and grading: the checks lab tests call, the student's ``Checker``, expected values, assign and grade.

Lab tests use the checks (each raises ``AssertionError`` with a message and, for known mistakes, a hint)::

    from coursekit import grading as g
    g.check_shape("q_reparam", z, (None, 20), hints={(None, 40): "did you concatenate mu and logvar?"})
    g.check_close("01", "kl", kl(mu, logvar), mistakes={"KL is negative: check the sign": lambda g, e: g < 0})
    g.check_close("02", "d_loss_extreme", loss, numerics="log(sigmoid(x)) is -inf at x = -200")

Without a hand-written hint, ``check_close`` diagnoses the answer itself (``coursekit.grading.diagnose``: a
flipped sign, a constant factor or offset, transposed or reordered values); ``sizes={"latents": 20}`` lets it
name a factor after the test's inputs, ``g.matches(value)`` is the detector of a known wrong value.

In a lab, ``grader = Checker("01")`` then ``grader.check("q_kl")`` runs a question's public tests (package
data) in the notebook. ``assign`` (student labs, public tests and grading bundles from solution notebooks,
with otter-grader) and ``grade`` (a folder of submissions into a CSV, each in a fresh ``runner`` process) are
imported on use by the ``python -m coursekit assign | grade | expected`` commands.
"""

from .checker import Checker
from .checks import (
    check_close,
    check_param_count,
    check_range,
    check_shape,
    check_true,
    count_parameters,
    matches,
)
from .store import expected

__all__ = ["Checker", "check_close", "check_param_count", "check_range", "check_shape", "check_true",
           "count_parameters", "expected", "matches"]
