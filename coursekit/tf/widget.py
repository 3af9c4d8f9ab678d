"""Deprecated alias of :mod:`coursekit.ui.style`, kept for saved notebooks; warns once when used."""

from ..deprecation import moved_module

__getattr__, __dir__ = moved_module(__name__, "coursekit.ui.style")
