"""The emulated Colab kernel: ipykernel's IPython kernel with ``google.colab._shell.Shell`` as its shell.

Started as ``python -m ipykernel_launcher -f CONNECTION_FILE
--IPKernelApp.kernel_class=google.colab._kernel.Kernel``, which imports ``google.colab`` before the first cell
runs, as on Colab.
"""

from ipykernel.ipkernel import IPythonKernel
from traitlets import Type

from . import _shell


class Kernel(IPythonKernel):
    shell_class = Type(_shell.Shell)
