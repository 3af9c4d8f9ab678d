"""Shared test set-up: a non-interactive matplotlib backend, quiet TensorFlow, repeatable hypothesis runs."""

import os

from hypothesis import settings

os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

# The same examples on every run, so a property failure found once is found again (and CI is not a lottery).
settings.register_profile("course", derandomize=True)
settings.load_profile("course")
