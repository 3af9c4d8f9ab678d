"""A stand-in for Colab's ``google.colab`` package, for the emulated Colab runtime of tests/colab/emulate.py.

Only what makes a kernel look like Colab's: the kernel (``_kernel.Kernel``) and its shell class
(``_shell.Shell``), as Colab starts them. ``google`` stays a namespace package (no ``google/__init__.py``),
so ``google.protobuf`` from the runtime still imports beside it. Not part of coursekit.
"""

__version__ = "0.0.0+emulated"
