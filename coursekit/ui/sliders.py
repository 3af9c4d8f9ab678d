"""Images driven by sliders: :func:`image_slider` (any function of the slider values) and
:func:`before_after_slider` (wipe between a restored picture and the old one).

    image_slider(lambda z0, z1: decoder(torch.tensor([[z0, z1]])), z0=(-3.0, 3.0), z1=(-3.0, 3.0))
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..errors import describe, expect_positive_int
from . import base


def _make_slider(widgets, name: str, spec):
    """An IntSlider/FloatSlider from (min, max[, step[, value]]); an existing slider widget is used as is."""
    if widgets is not None and isinstance(spec, widgets.ValueWidget):
        return spec
    expected = (
        f"slider {name!r}: expected (min, max), (min, max, step) or (min, max, step, value), got {spec!r}"
    )
    if not isinstance(spec, (tuple, list)) or not all(
        isinstance(n, (int, float)) and not isinstance(n, bool) for n in spec
    ):
        raise TypeError(expected)
    numbers = tuple(spec)
    if not 2 <= len(numbers) <= 4:
        raise ValueError(expected)
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


class ImageSlider(base.StaticOrLive):
    """An image ``fn(**values)`` with one slider per keyword; see :func:`image_slider`."""

    def __init__(
        self, fn: Callable[..., object], sliders: dict, title: str | None = None, static: bool | None = None
    ):
        super().__init__(static)
        if not callable(fn):
            raise TypeError(
                f"fn: expected a function of the slider values returning an image, got {describe(fn)}"
            )
        if not sliders:
            raise ValueError("image_slider: expected at least one slider, e.g. z0=(-3.0, 3.0)")
        self.fn = fn
        widgets = self.ipywidgets_when_live()
        made = {name: _make_slider(widgets, name, spec) for name, spec in sliders.items()}
        self.sliders = made if widgets is not None else {}
        self.values = {name: (s.value if widgets is not None else s) for name, s in made.items()}
        self.png = self.render()
        self.image: Any | None = None
        if widgets is not None:
            self.image = widgets.Image(value=self.png, format="png")
            for name, slider in self.sliders.items():
                slider.observe(lambda change, name=name: self._changed(name, change["new"]), names="value")
            header = [widgets.HTML(value=f"<b>{title}</b>")] if title else []
            self.widget = widgets.VBox([*header, *self.sliders.values(), self.image])

    def render(self) -> bytes:
        """PNG bytes of ``fn`` at the current slider values."""
        with base.no_grad():
            return base.image_to_png(self.fn(**self.values))

    def _changed(self, name: str, value) -> None:
        self.values[name] = value
        self.png = self.render()
        if self.image is not None:
            self.image.value = self.png


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


def before_after_slider(before, after, title: str | None = None, static: bool | None = None, zoom: int = 1):
    """A before/after comparison slider (:func:`image_slider` over
    :func:`coursekit.nn.old_photos.before_after`): drag ``split`` to wipe between the restored image ``after``
    (left) and the old photo ``before`` (right), both (3, H, W) in [0, 1]. Static output (no front end) shows
    the split at 0.5. ``zoom`` enlarges small images by pixel repetition."""
    from ..nn.old_photos import before_after

    expect_positive_int("zoom", zoom)

    def view(split):
        image = before_after(before.detach().cpu().float(), after.detach().cpu().float(), split)
        return image.repeat_interleave(zoom, -1).repeat_interleave(zoom, -2) if zoom > 1 else image

    return image_slider(view, title=title, static=static, split=(0.0, 1.0, 0.01, 0.5))
