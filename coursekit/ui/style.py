"""The style transfer widget of lecture 11 (TensorFlow: imported only on demand, never by ``coursekit.ui``).

Pick a content and a style, the style/content weight ratio, the total variation weight and the number of
steps, press Run. Without a front end (CI, plain Python) it runs once with the start values and shows the
result as a static image (:func:`coursekit.ui.base.use_static` decides)."""

from __future__ import annotations

import math

import numpy as np

from ..errors import expect_positive_int
from ..tf import style as st
from ..tf.images import as_batch, resize_max_side
from . import base
from .sliders import slider_style

EAGER_BELOW = 20


def _panel(content: np.ndarray, style_image: np.ndarray, result: np.ndarray) -> np.ndarray:
    """Content | style | result side by side (style resized to the content's height), white gaps."""
    import tensorflow as tf

    height = content.shape[0]
    width = max(1, round(style_image.shape[1] * height / style_image.shape[0]))
    style_image = tf.image.resize(style_image[None], (height, width), antialias=True)[0].numpy()
    gap = np.ones((height, 4, 3), np.float32)
    return np.clip(np.concatenate([content, gap, style_image, gap, result], axis=1), 0, 1)


class StyleTransferWidget(base.StaticOrLive):
    """See :func:`style_transfer_widget`; ``run()`` performs one transfer with the current values."""

    def __init__(
        self,
        extractor,
        contents: dict,
        styles: dict,
        size: int,
        steps: tuple[int, int, int],
        static: bool | None = None,
    ):
        super().__init__(static)
        if not contents or not styles:
            raise ValueError("style_transfer_widget: expected at least one content and one style image")
        expect_positive_int("size", size)
        low, high, start = (expect_positive_int("steps", s) for s in steps)
        self.extractor, self.size = extractor, size
        self.contents = {
            name: resize_max_side(as_batch(name, image)[:1], size) for name, image in contents.items()
        }
        self.styles = {
            name: resize_max_side(as_batch(name, image)[:1], size) for name, image in styles.items()
        }
        defaults = st.default_weights(extractor.weights)
        self.values = dict(
            content=next(iter(contents)),
            style=next(iter(styles)),
            log10_ratio=round(math.log10(defaults.style / defaults.content), 1),
            tv=defaults.tv,
            steps=start,
        )
        self.content_weight = defaults.content
        self.result: st.Result | None = None
        widgets = self.ipywidgets_when_live()
        if widgets is not None:
            self._build(widgets, (low, high))

    def _build(self, widgets, step_range) -> None:
        v = self.values
        self.controls = dict(
            content=widgets.Dropdown(options=list(self.contents), value=v["content"], description="content"),
            style=widgets.Dropdown(options=list(self.styles), value=v["style"], description="style"),
            log10_ratio=widgets.FloatSlider(
                value=v["log10_ratio"], min=-8.0, max=1.0, step=0.5, description="log10 style/content",
                style=slider_style("log10 style/content"),
            ),
            tv=widgets.FloatSlider(value=v["tv"], min=0.0, max=60.0, step=1.0, description="TV weight"),
            steps=widgets.IntSlider(
                value=v["steps"], min=step_range[0], max=step_range[1], description="steps"
            ),
        )
        self.button = widgets.Button(description="Run", button_style="primary")
        self.button.on_click(lambda _button: self.run())
        self.status = widgets.HTML(value="Choose, then press Run.")
        self.image = widgets.Image(format="png")
        self.widget = widgets.VBox([*self.controls.values(), self.button, self.status, self.image])

    def weights(self) -> st.Weights:
        """The loss weights of the current values (content weight fixed, style = ratio * content)."""
        ratio = 10.0 ** self.values["log10_ratio"]
        return st.Weights(
            style=ratio * self.content_weight, content=self.content_weight, tv=self.values["tv"]
        )

    def run(self) -> st.Result:
        """One style transfer with the current values; updates the picture (live) and returns the Result."""
        if self.widget is not None:
            self.values.update({name: control.value for name, control in self.controls.items()})
            self.status.value = "running..."
        content, style_image = self.contents[self.values["content"]], self.styles[self.values["style"]]
        steps = self.values["steps"]
        compile_steps = steps >= EAGER_BELOW  # tracing costs seconds: worth it only for longer runs
        self.result = st.transfer(
            self.extractor, content, style_image, steps, self.weights(), compile=compile_steps
        )
        total = self.result.history["total"][:, 0]
        self.summary = (
            f"{self.values['steps']} steps in {self.result.seconds:.1f} s; total loss "
            f"{total[0]:.3g} -> {total[-1]:.3g} ({total[0] / max(total[-1], 1e-12):.1f}x lower)"
        )
        panel = _panel(content[0].numpy(), style_image[0].numpy(), self.result.images[0])
        self.png = base.image_to_png(panel)
        if self.widget is not None:
            self.status.value = self.summary
            self.image.value = self.png
        return self.result

    def static_png(self) -> bytes:
        """The static form: one transfer with the start values (its summary printed), as PNG."""
        self.run()
        print(self.summary)
        return super().static_png()


def style_transfer_widget(
    extractor,
    contents: dict,
    styles: dict,
    size: int = 128,
    steps: tuple[int, int, int] = (10, 500, 100),
    static: bool | None = None,
):
    """Interactive Gatys style transfer over named ``contents`` and ``styles`` (images in [0, 1], any layout
    :func:`coursekit.tf.images.as_batch` accepts), resized to ``size`` on the longer side; ``steps`` is
    (min, max, start). Put it last in a cell. Static mode runs once with the first content and style."""
    return StyleTransferWidget(extractor, contents, styles, size, steps, static)
