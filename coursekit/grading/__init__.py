"""Labs and grading on otter-grader: the checks lab tests call, expected values, assign and grade.

Lab tests use the checks (each raises ``AssertionError`` with a message and, for known mistakes, a hint)::

    from coursekit import grading as g
    g.check_shape("q_reparam", z, (None, 20), hints={(None, 40): "did you concatenate mu and logvar?"})
    g.check_close("01", "kl", kl(mu, logvar), mistakes={"KL is negative: check the sign": lambda g, e: g < 0})

``assign`` (student labs from solution notebooks) and ``grade`` (a folder of submissions into a CSV) are
imported on use by the ``python -m coursekit assign | grade | expected`` commands.
"""

from .checks import check_close, check_param_count, check_range, check_shape, check_true, count_parameters
from .store import expected

__all__ = ["check_close", "check_param_count", "check_range", "check_shape", "check_true", "count_parameters",
           "expected"]
