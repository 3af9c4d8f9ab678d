"""A live training dashboard: loss curves, a grid of samples and a Stop button, as a ``fit`` callback.

    dash = TrainingDashboard(metrics=("loss_d", "loss_g"), sample_fn=lambda: generator(z_fixed))
    fit(step, loader, steps=cfg.steps, callbacks=[dash])          # the plot updates in place
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from typing import Any

from ..errors import describe, expect_positive_int
from . import base

POLL_SECONDS = 0.1  # how often a running fit looks for a Stop click
INTERRUPT_HINT = (
    "<i>To stop early, interrupt the kernel (the &#9632; button; Colab: Ctrl+M I):"
    " training stops cleanly and keeps the steps done.</i>"
)


def ui_events_supported() -> bool:
    """Whether a widget click can reach a cell that is still running (so a Stop button can stop ``fit``).

    A busy kernel handles front-end messages only after the running cell ends. jupyter-ui-poll (in the
    ``colab`` and ``course`` extras; Colab does not ship it) lets the cell handle them itself, through
    ipykernel's ``do_one_iteration``: ipykernel 6 (Colab's 6.17) has it, ipykernel 7 has not. False outside a
    kernel, without jupyter-ui-poll, or with a kernel that lacks ``do_one_iteration``.
    """
    if not base.in_notebook():
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


class TrainingDashboard(base.StaticOrLive):
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
        super().__init__(static)
        if isinstance(metrics, str):
            metrics = (metrics,)
        self.metrics = None if metrics is None else tuple(metrics)
        if sample_fn is not None and not callable(sample_fn):
            raise TypeError(f"sample_fn: expected a function returning images, got {describe(sample_fn)}")
        self.sample_fn = sample_fn
        self.every = expect_positive_int("every", every)
        self.title = str(title)
        self.steps: list[int] = []
        self.values: dict[str, list[float]] = {name: [] for name in self.metrics or ()}
        self.stop_requested = False
        self._handle: Any | None = None  # IPython's display handle of the figure
        self._polls = False  # whether on_step looks for clicks (decided when the controls are shown)
        self._polled_at = 0.0
        widgets = self.ipywidgets_when_live()
        self.stop_button: Any | None = None
        self.status: Any | None = None
        if widgets is not None:
            self.stop_button = widgets.Button(
                description="Stop", button_style="danger", tooltip="Stop training"
            )
            self.stop_button.on_click(lambda _button: self.stop())
            self.status = widgets.HTML(value="")

    def live(self) -> bool:
        """Live whenever not static: without ipywidgets the figure still updates in place, with no button."""
        return not self.static

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
            self.show()

    def show_live(self) -> None:
        """Display the Stop button (or the interrupt hint) and the status line, then the figure (a handle)."""
        from IPython.display import Image

        widgets = self.ipywidgets_when_live()
        if widgets is not None:
            self._polls = ui_events_supported()
            stop = self.stop_button if self._polls else widgets.HTML(value=INTERRUPT_HINT)
            base.display(widgets.HBox([stop, self.status]))
        self._handle = base.display(Image(data=self.png, format="png"), display_id=True)

    def update(self) -> None:
        """Render the figure now and, when live, replace the displayed image and status line."""
        self.png = self.render()
        if self.static:
            return
        if self._handle is None:
            self.show()
        else:
            from IPython.display import Image

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
            with base.no_grad():
                samples = base.as_hwc(self.sample_fn())
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
        return base.figure_png(fig)
