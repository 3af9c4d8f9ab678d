"""Models that more than one module needs, one file per paper.

Import the file: ``from coursekit.nn import vae``. A lecture builds its model in readable cells; when a later
module reuses it, the model lives here and the lecture imports it instead of redefining it.

Every constructor speaks one vocabulary (the glossary in ``coursekit/nn/README.md``): ``size`` and
``channels`` of the images, ``z_dim`` of the latent code, ``ngf`` / ``ndf`` / ``nef`` for a GAN's base
widths and ``width`` for any other network's, ``hidden``, ``n_blocks``, ``growth``; step builders are
``*_step``. Retired names (``image_size``, ``latent_dim``, ``nf``, ``nb``, ...) still work for one release,
with a DeprecationWarning.
"""


def count_parameters(module, trainable_only: bool = False) -> int:
    """The number of parameters of a torch module (with ``trainable_only``, those that require gradients).

    The count a paper's table quotes: a wrong layer size or a missing bias changes it.
    """
    return sum(p.numel() for p in module.parameters() if p.requires_grad or not trainable_only)
