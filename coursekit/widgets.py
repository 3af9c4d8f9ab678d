"""Notebook widgets: a live training dashboard and images driven by sliders.

Both work with ipywidgets 7.7 (Colab) and 8 (only API common to both is used) and degrade to static
output where no front end runs (plain Python, nbval, CI): nothing interactive, at most one final PNG.
The mode is chosen by :func:`use_static`: the ``static=`` argument if given, else the environment variable
``COURSEKIT_WIDGETS`` (``static`` | ``live`` | ``auto``), else live inside a Jupyter/Colab kernel.

    dash = TrainingDashboard(metrics=("loss_d", "loss_g"), sample_fn=lambda: generator(z_fixed))
    fit(step, loader, steps=cfg.steps, callbacks=[dash])          # the plot updates in place

    image_slider(lambda z0, z1: decoder(torch.tensor([[z0, z1]])), z0=(-3.0, 3.0), z1=(-3.0, 3.0))
"""

from __future__ import annotations

import contextlib
import io
import math
import os
import time
from collections.abc import Callable, Sequence

import numpy as np

from .errors import describe, expect_choice, expect_positive_int

WIDGETS_ENV_VAR = "COURSEKIT_WIDGETS"
MIN_IMAGE_SIZE = 256
POLL_SECONDS = 0.1  # how often a running fit looks for a Stop click
INTERRUPT_HINT = (
    "<i>To stop early, interrupt the kernel (the &#9632; button; Colab: Ctrl+M I):"
    " training stops cleanly and keeps the steps done.</i>"
)


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


def _figure_png(fig) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return buffer.getvalue()


def _as_hwc(image) -> np.ndarray:
    """An image as a float (H, W, C) array in [0, 1].

    Torch tensors follow the course layout: (C, H, W), (B, C, H, W) (tiled with ``viz.make_grid``) or
    (H, W). NumPy arrays are (H, W) or (H, W, C), or a (B, C, H, W) batch.
    """
    from .viz import make_grid

    is_tensor = hasattr(image, "detach") and hasattr(image, "cpu")
    if is_tensor:
        image = image.detach().cpu().float()
        if image.ndim == 2:
            image = image[None]
        return make_grid(image, pad=0 if image.ndim == 3 else 2)
    if not isinstance(image, np.ndarray):
        raise ValueError(
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
    """PNG bytes of an image in [0, 1] (see ``_as_hwc`` for layouts) or of a matplotlib Figure.

    Small images are enlarged by an integer factor (nearest neighbour, crisp pixels) until their longer
    side is at least ``min_size`` pixels, so 8x8 digits stay visible.
    """
    from PIL import Image

    if hasattr(image, "savefig"):
        return _figure_png(image)
    hwc = _as_hwc(image)
    pixels = np.round(hwc * 255).astype(np.uint8)
    picture = Image.fromarray(pixels[..., 0] if pixels.shape[-1] == 1 else pixels)
    factor = max(1, math.ceil(min_size / max(picture.size)))
    if factor > 1:
        picture = picture.resize((picture.width * factor, picture.height * factor), Image.NEAREST)
    buffer = io.BytesIO()
    picture.save(buffer, format="png")
    return buffer.getvalue()


def ui_events_supported() -> bool:
    """Whether a widget click can reach a cell that is still running (so a Stop button can stop ``fit``).

    A busy kernel handles front-end messages only after the running cell ends. jupyter-ui-poll (in the
    ``colab`` and ``course`` extras; Colab does not ship it) lets the cell handle them itself, through
    ipykernel's ``do_one_iteration``: ipykernel 6 (Colab's 6.17) has it, ipykernel 7 has not. False outside a
    kernel, without jupyter-ui-poll, or with a kernel that lacks ``do_one_iteration``.
    """
    if not in_notebook():
        return False
    try:
        import jupyter_ui_poll  # noqa: F401
    except ImportError:
        return False
    from IPython import get_ipython

    return callable(getattr(get_ipython().kernel, "do_one_iteration", None))


def process_ui_events(max_events: int = 10) -> None:
    """Handle up to ``max_events`` pending widget messages (e.g. a Stop click) from inside a running cell.

    Does nothing where :func:`ui_events_supported` is False. Cells queued behind the running one (Run all)
    are held back by jupyter-ui-poll and run after it, in order.
    """
    if not ui_events_supported():
        return
    from jupyter_ui_poll import ui_events

    with ui_events() as poll:
        poll(max_events)


def _no_grad():
    """torch.no_grad() when torch is installed (sample functions should not build graphs)."""
    try:
        import torch
    except ImportError:
        return contextlib.nullcontext()
    return torch.no_grad()


class TrainingDashboard:
    """A live loss plot, a grid of samples and a Stop button; a callback for :func:`coursekit.train.fit`.

    Args:
        metrics: the logged names to plot (None: every name the step function logs).
        sample_fn: called without arguments (under ``torch.no_grad()``) every ``every`` steps; returns
            images in [0, 1], e.g. a (B, C, H, W) batch from fixed latent codes, shown as one grid.
        every: redraw every this many steps (drawing takes tens of milliseconds).
        title: the plot's title.
        static: force static output (True) or live widgets (False); None decides automatically.

    Live, the plot and the samples are one PNG that is updated in place in a single display handle, and
    the Stop button sets ``stop_requested``, which ``fit`` checks after every step (``on_step`` lets the
    click through while the cell is busy, see :func:`process_ui_events`). Where a click cannot reach the
    running cell (:func:`ui_events_supported` is False: no jupyter-ui-poll, or ipykernel 7) the dashboard
    shows a hint to interrupt the kernel instead of the button; the interrupt (the square button, Ctrl-C,
    Colab's Ctrl+M I) always stops ``fit`` cleanly. Static, nothing is shown during training and the final
    figure is displayed once at the end (when IPython runs). ``png`` always holds the last rendered figure.
    """

    def __init__(
        self,
        metrics: Sequence[str] | None = ("loss",),
        sample_fn: Callable[[], object] | None = None,
        every: int = 10,
        title: str = "Training",
        static: bool | None = None,
    ):
        if isinstance(metrics, str):
            metrics = (metrics,)
        self.metrics = None if metrics is None else tuple(metrics)
        if sample_fn is not None and not callable(sample_fn):
            raise ValueError(f"sample_fn: expected a function returning images, got {describe(sample_fn)}")
        self.sample_fn = sample_fn
        self.every = expect_positive_int("every", every)
        self.title = str(title)
        self.static = use_static(static)
        self.steps: list[int] = []
        self.values: dict[str, list[float]] = {name: [] for name in self.metrics or ()}
        self.png: bytes | None = None
        self.stop_requested = False
        self._handle = None
        self._polls = False  # whether on_step looks for clicks (decided when the controls are shown)
        self._polled_at = 0.0
        widgets = ipywidgets_or_none()
        self.stop_button = self.status = None
        if widgets is not None:
            self.stop_button = widgets.Button(
                description="Stop", button_style="danger", tooltip="Stop training"
            )
            self.stop_button.on_click(lambda _button: self.stop())
            self.status = widgets.HTML(value="")

    def stop(self) -> None:
        """Ask the training loop to stop after the current step (what the Stop button does)."""
        self.stop_requested = True
        if self.stop_button is not None:
            self.stop_button.disabled = True
            self.stop_button.description = "Stopping"

    def record(self, step: int, logs: dict[str, float]) -> None:
        """Add one step's logged values (names outside ``metrics`` are ignored)."""
        names = self.metrics if self.metrics is not None else tuple(logs)
        for name in names:
            self.values.setdefault(name, [math.nan] * len(self.steps))
        for name, series in self.values.items():
            series.append(float(logs.get(name, math.nan)))
        self.steps.append(int(step))

    def on_start(self, history: dict[str, list]) -> None:
        """Take over the history so far (after ``resume=True``), reset the Stop button, show the dashboard."""
        self.steps, self.values = [], {name: [] for name in self.metrics or ()}
        for index, step in enumerate(history.get("step", [])):
            self.record(step, {name: values[index] for name, values in history.items() if name != "step"})
        self.stop_requested = False
        if self.stop_button is not None:
            self.stop_button.disabled = False
            self.stop_button.description = "Stop"
        if not self.static:
            self.update()

    def on_step(self, step: int, logs: dict[str, float]) -> None:
        """Record the step; redraw every ``every`` steps; let a Stop click through (live mode)."""
        self.record(step, logs)
        if self.static:
            return
        if (step + 1) % self.every == 0:
            self.update()
        if self._polls and time.monotonic() - self._polled_at >= POLL_SECONDS:
            process_ui_events()
            self._polled_at = time.monotonic()

    def on_end(self, history: dict[str, list]) -> None:
        """Draw the final state; in static mode this is the one output the dashboard produces."""
        self.update()
        if self.static:
            show_png(self.png)

    def update(self) -> None:
        """Render the figure now and, when live, replace the displayed image and status line."""
        self.png = self.render()
        if self.static:
            return
        from IPython.display import Image

        if self._handle is None:
            widgets = ipywidgets_or_none()
            if widgets is not None:
                self._polls = ui_events_supported()
                stop = self.stop_button if self._polls else widgets.HTML(value=INTERRUPT_HINT)
                display(widgets.HBox([stop, self.status]))
            self._handle = display(Image(data=self.png, format="png"), display_id=True)
        else:
            self._handle.update(Image(data=self.png, format="png"))
        if self.status is not None:
            self.status.value = self._status_text()

    def _status_text(self) -> str:
        if not self.steps:
            return "waiting for the first step"
        latest = ", ".join(f"{name} {series[-1]:.4g}" for name, series in self.values.items())
        return f"step {self.steps[-1] + 1}: {latest}"

    def render(self) -> bytes:
        """The loss curves (and the current samples) as PNG bytes."""
        from matplotlib.figure import Figure

        samples = None
        if self.sample_fn is not None:
            with _no_grad():
                samples = _as_hwc(self.sample_fn())
        fig = Figure(figsize=(9.0 if samples is not None else 5.5, 3.4), dpi=80, layout="constrained")
        ax = fig.add_subplot(1, 2 if samples is not None else 1, 1)
        for name, series in self.values.items():
            ax.plot(self.steps, series, label=name, linewidth=1.2)
        ax.set_xlabel("step")
        ax.set_title(f"{self.title}: step {self.steps[-1] + 1}" if self.steps else self.title)
        ax.grid(alpha=0.3)
        if self.values and self.steps:
            ax.legend(loc="upper right")
        if samples is not None:
            axes = fig.add_subplot(1, 2, 2)
            if samples.shape[-1] == 1:
                axes.imshow(samples[..., 0], cmap="gray", vmin=0.0, vmax=1.0, interpolation="nearest")
            else:
                axes.imshow(samples, vmin=0.0, vmax=1.0, interpolation="nearest")
            axes.set_title("samples")
            axes.set_axis_off()
        return _figure_png(fig)


def _make_slider(widgets, name: str, spec):
    """An IntSlider/FloatSlider from (min, max[, step[, value]]); an existing slider widget is used as is."""
    if widgets is not None and isinstance(spec, widgets.ValueWidget):
        return spec
    numbers = tuple(spec) if isinstance(spec, (tuple, list)) else ()
    if not 2 <= len(numbers) <= 4 or not all(
        isinstance(n, (int, float)) and not isinstance(n, bool) for n in numbers
    ):
        raise ValueError(
            f"slider {name!r}: expected (min, max), (min, max, step) or (min, max, step, value), got {spec!r}"
        )
    low, high = numbers[0], numbers[1]
    integer = all(isinstance(n, int) for n in numbers)
    step = numbers[2] if len(numbers) > 2 else (1 if integer else (high - low) / 100)
    value = (
        numbers[3] if len(numbers) > 3 else (low + (high - low) // 2 if integer else low + (high - low) / 2)
    )
    if not low < high or step <= 0 or not low <= value <= high:
        raise ValueError(
            f"slider {name!r}: expected min < max, step > 0 and min <= value <= max, got {spec!r}"
        )
    if widgets is None:
        return value
    kind = widgets.IntSlider if integer else widgets.FloatSlider
    return kind(
        value=value, min=low, max=high, step=step, description=name, continuous_update=True,
        style=slider_style(name),
    )


def slider_style(description: str) -> dict:
    """A slider's ``style``: the default label width (labels line up) unless it would cut the text off.

    The default width fits about ten characters in ipywidgets 7 and 8 alike; longer labels get their own.
    """
    return {"description_width": "initial"} if len(description) > 10 else {}


class ImageSlider:
    """An image ``fn(**values)`` with one slider per keyword; see :func:`image_slider`."""

    def __init__(
        self, fn: Callable[..., object], sliders: dict, title: str | None = None, static: bool | None = None
    ):
        if not callable(fn):
            raise ValueError(
                f"fn: expected a function of the slider values returning an image, got {describe(fn)}"
            )
        if not sliders:
            raise ValueError("image_slider: expected at least one slider, e.g. z0=(-3.0, 3.0)")
        self.fn = fn
        self.static = use_static(static)
        widgets = ipywidgets_or_none()
        made = {name: _make_slider(widgets, name, spec) for name, spec in sliders.items()}
        self.sliders = made if widgets is not None else {}
        self.values = {name: (s.value if widgets is not None else s) for name, s in made.items()}
        self.png = self.render()
        self.image = self.widget = None
        if widgets is not None:
            self.image = widgets.Image(value=self.png, format="png")
            for name, slider in self.sliders.items():
                slider.observe(lambda change, name=name: self._changed(name, change["new"]), names="value")
            header = [widgets.HTML(value=f"<b>{title}</b>")] if title else []
            self.widget = widgets.VBox([*header, *self.sliders.values(), self.image])

    def render(self) -> bytes:
        """PNG bytes of ``fn`` at the current slider values."""
        with _no_grad():
            return image_to_png(self.fn(**self.values))

    def _changed(self, name: str, value) -> None:
        self.values[name] = value
        self.png = self.render()
        self.image.value = self.png

    def show(self) -> None:
        """Display the sliders and image (live) or the image at the current values (static)."""
        if self.static or self.widget is None:
            show_png(self.png)
        else:
            display(self.widget)

    def _ipython_display_(self) -> None:
        self.show()


def image_slider(
    fn: Callable[..., object], *, title: str | None = None, static: bool | None = None, **sliders
):
    """Show ``fn(**values)`` as an image that re-renders whenever a slider moves; returns an ImageSlider.

    Each keyword is a slider: ``(min, max)``, ``(min, max, step)`` or ``(min, max, step, value)`` (all ints
    give an IntSlider, otherwise a FloatSlider; the start value defaults to the middle), or a ready
    ipywidgets slider. ``fn`` returns an image in [0, 1] (a tensor (C, H, W) or batch (B, C, H, W), a numpy
    (H, W[, C]) array) or a matplotlib Figure, and is called under ``torch.no_grad()``. Put the result last
    in a cell (or call ``.show()``). Static mode shows the image for the start values only. Example, a
    latent traversal::

        image_slider(lambda z0, z1: decoder(torch.tensor([[z0, z1]])), z0=(-3.0, 3.0), z1=(-3.0, 3.0))
    """
    return ImageSlider(fn, sliders, title=title, static=static)
