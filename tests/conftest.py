"""Shared test set-up: a non-interactive matplotlib backend and a private coursekit cache per session."""

import os

os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
