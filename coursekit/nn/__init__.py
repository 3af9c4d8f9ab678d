"""Models that more than one module needs, one file per paper.

Import the file: ``from coursekit.nn import vae``. A lecture builds its model in readable cells; when a later
module reuses it, the model lives here and the lecture imports it instead of redefining it.
"""


def count_parameters(module, trainable_only: bool = False) -> int:
    """The number of parameters of a torch module (with ``trainable_only``, those that require gradients).

    The count a paper's table quotes: a wrong layer size or a missing bias changes it.
    """
    return sum(p.numel() for p in module.parameters() if p.requires_grad or not trainable_only)
