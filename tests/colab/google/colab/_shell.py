"""The interactive shell class of the emulated Colab kernel.

Colab runs its kernel with a shell class defined in this module, so ``str(get_ipython())`` reads
``<google.colab._shell.Shell object at ...>``: what otter-grader's ``IPythonInterpreter.COLAB`` looks for.
"""

from ipykernel.zmqshell import ZMQInteractiveShell


class Shell(ZMQInteractiveShell):
    """ipykernel's shell, under Colab's module and class name."""
