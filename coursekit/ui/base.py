"""What every course widget shares: the static-or-live choice, how it is shown, and PNG rendering.

Widgets work with ipywidgets 7.7 (Colab) and 8 (only API common to both is used) and degrade to static
output where no front end runs (plain Python, nbval, CI): nothing interactive, one PNG. The mode is chosen by
:func:`use_static`: the ``static=`` argument if given, else the environment variable ``COURSEKIT_WIDGETS``
(``static`` | ``live`` | ``auto``), else live inside a Jupyter/Colab kernel with ipywidgets installed.
:class:`StaticOrLive` is the one ``show`` / ``_ipython_display_`` pair every widget uses.
"""

from __future__ import annotations

import contextlib
import io
import math
import os
from typing import Any

import numpy as np

from ..errors import describe, expect_choice

WIDGETS_ENV_VAR = "COURSEKIT_WIDGETS"
MIN_IMAGE_SIZE = 256


def in_notebook() -> bool:
    """True inside a Jupyter or Colab kernel; False in plain Python and in terminal IPython."""
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None


def ipywidgets_or_none():
    """The ipywidgets module, or None where it is not installed."""
    try:
        import ipywidgets
    except ImportError:
        return None
    return ipywidgets


def use_static(static: bool | None = None) -> bool:
    """Whether to render static output: ``static`` if given, else ``COURSEKIT_WIDGETS``, else auto-detect.

    Auto means live inside a notebook kernel with ipywidgets installed, static everywhere else.
    """
    if static is not None:
        return bool(static)
    mode = os.environ.get(WIDGETS_ENV_VAR, "").strip().lower() or "auto"
    expect_choice(WIDGETS_ENV_VAR, mode, ("auto", "static", "live"))
    if mode != "auto":
        return mode == "static"
    return not in_notebook() or ipywidgets_or_none() is None


def progress_bar(**tqdm_arguments):
    """A tqdm progress bar: the notebook widget when widgets are live, plain text when static.

    Static mode (``COURSEKIT_WIDGETS=static``: nbval, CI, the course website) gets the text bar even inside a
    kernel, so an executed notebook stores no widget that a static page cannot render.
    """
    if use_static():
        from tqdm.std import tqdm
    else:
        from tqdm.auto import tqdm
    return tqdm(**tqdm_arguments)


def display(obj, display_id: bool = False):
    """IPython's display (returns a handle with display_id=True); a no-op without IPython."""
    try:
        from IPython.display import display as ipython_display
    except ImportError:
        return None
    return ipython_display(obj, display_id=display_id)


def show_png(png: bytes) -> None:
    """Static output: the PNG as a cell output under IPython (nbval keeps it); nothing in plain Python."""
    try:
        from IPython import get_ipython
        from IPython.display import Image
    except ImportError:
        return
    if get_ipython() is not None:
        display(Image(data=png, format="png"))


def figure_png(fig, dpi: float | None = None) -> bytes:
    """PNG bytes of a matplotlib Figure (at ``dpi``, default the figure's own)."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", **({} if dpi is None else {"dpi": dpi}))
    return buffer.getvalue()


def as_hwc(image) -> np.ndarray:
    """An image as a float (H, W, C) array in [0, 1].

    Torch tensors follow the course layout: (C, H, W), (B, C, H, W) (tiled with ``viz.make_grid``) or
    (H, W). NumPy arrays are (H, W) or (H, W, C), or a (B, C, H, W) batch.
    """
    from ..viz import make_grid

    is_tensor = hasattr(image, "detach") and hasattr(image, "cpu")
    if is_tensor:
        image = image.detach().cpu().float()
        if image.ndim == 2:
            image = image[None]
        return make_grid(image, pad=0 if image.ndim == 3 else 2)
    if not isinstance(image, np.ndarray):
        raise TypeError(
            f"image: expected a torch.Tensor, numpy array or matplotlib Figure, got {describe(image)}"
        )
    if image.ndim == 4:
        return make_grid(image)
    if image.ndim == 2:
        image = image[..., None]
    if image.ndim != 3 or image.shape[-1] not in (1, 3, 4):
        raise ValueError(
            f"image: expected a numpy array (H, W) or (H, W, C) with C in 1, 3, 4, got {describe(image)}"
        )
    image = image.astype(np.float32)
    if image.size and (not np.isfinite(image).all() or image.min() < -1e-6 or image.max() > 1 + 1e-6):
        raise ValueError(
            f"image: expected finite values in [0, 1], got values in [{image.min():.4g}, {image.max():.4g}]"
        )
    return np.clip(image, 0.0, 1.0)


def image_to_png(image, min_size: int = MIN_IMAGE_SIZE) -> bytes:
    """PNG bytes of an image in [0, 1] (see :func:`as_hwc` for layouts) or of a matplotlib Figure.

    Small images are enlarged by an integer factor (nearest neighbour, crisp pixels) until their longer
    side is at least ``min_size`` pixels, so 8x8 digits stay visible.
    """
    from PIL import Image

    if hasattr(image, "savefig"):
        return figure_png(image)
    hwc = as_hwc(image)
    pixels = np.round(hwc * 255).astype(np.uint8)
    picture = Image.fromarray(pixels[..., 0] if pixels.shape[-1] == 1 else pixels)
    factor = max(1, math.ceil(min_size / max(picture.size)))
    if factor > 1:
        picture = picture.resize((picture.width * factor, picture.height * factor), Image.Resampling.NEAREST)
    buffer = io.BytesIO()
    picture.save(buffer, format="png")
    return buffer.getvalue()


def no_grad():
    """torch.no_grad() when torch is installed (functions drawing a widget's picture build no graphs)."""
    try:
        import torch
    except ImportError:
        return contextlib.nullcontext()
    return torch.no_grad()


class StaticOrLive:
    """The static-or-live display every course widget shares.

    ``static`` comes from :func:`use_static`. A subclass sets ``widget`` to its ipywidgets box when it can run
    live and keeps its current picture in ``png``. ``show()`` (and a cell ending with the object) displays
    the box when live (:meth:`live`), otherwise the static PNG (:meth:`static_png`, by default ``png``): with
    ``COURSEKIT_WIDGETS=static``, without a front end, or where ipywidgets is missing.
    """

    def __init__(self, static: bool | None = None):
        self.static = use_static(static)
        self.widget: Any | None = None  # the ipywidgets box of the live form
        self.png: bytes | None = None

    def live(self) -> bool:
        """Whether ``show`` displays the interactive widget rather than the static picture."""
        return not self.static and self.widget is not None

    def ipywidgets_when_live(self):
        """ipywidgets to build the live form with, or None when static: a static widget creates no ipywidget
        (an executed notebook saves the state of every one created, shown or not) or where it is missing."""
        return None if self.static else ipywidgets_or_none()

    def static_png(self) -> bytes:
        """The picture of the static form."""
        if self.png is None:
            raise RuntimeError(f"{type(self).__name__}: expected a picture (png bytes) to show, got none yet")
        return self.png

    def show_live(self) -> None:
        """Display the interactive form."""
        display(self.widget)

    def show(self) -> None:
        """Display the widget: live controls, or the static PNG (see the class docstring)."""
        if self.live():
            self.show_live()
        else:
            show_png(self.static_png())

    def _ipython_display_(self) -> None:
        self.show()
