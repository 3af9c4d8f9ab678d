"""TensorFlow parts of the course (lecture 11: neural style transfer), imported only on demand.

``import coursekit`` never imports TensorFlow; ``from coursekit.tf import style`` does. The sub-modules:

- :mod:`coursekit.tf.images`: course images (torch (C, H, W) in [0, 1], numpy, TF) to TF batches (N, H, W, 3),
  resizing, and a seeded psychedelic pattern that stands in for the seed's psychedelic poster offline.
- :mod:`coursekit.tf.style`: Keras VGG19 features, Gram matrices, style / content / total variation losses
  and the optimisation of an image (Gatys et al. 2016, as the TensorFlow style transfer tutorial does it).
- :mod:`coursekit.tf.fast_style`: the fast arbitrary stylization network (Ghiasi et al. 2017) at CPU size,
  its training with the VGG losses, and its export as a SavedModel with the TF-Hub model's signature.

The lecture's style transfer widget is :mod:`coursekit.ui.style` (``coursekit.tf.widget`` is its old name).
"""

from __future__ import annotations

import importlib
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

_SUBMODULES = ("images", "style", "fast_style", "widget")


def __getattr__(name: str):
    """Import a sub-module (and with it TensorFlow) on first use."""
    if name in _SUBMODULES:
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'coursekit.tf' has no attribute {name!r}")


def limit_threads(threads: int) -> int:
    """Cap TensorFlow's intra- and inter-op thread pools (call before the first TF operation runs).

    Returns the intra-op thread count in effect; once TF's runtime has started the caps can no longer
    change, and the count already in effect is returned unchanged.
    """
    import tensorflow as tf

    from ..errors import expect_positive_int

    expect_positive_int("threads", threads)
    try:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)
    except RuntimeError:
        pass
    return tf.config.threading.get_intra_op_parallelism_threads()
