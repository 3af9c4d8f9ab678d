"""coursekit.widgets: dashboard and image slider, headless (static) and as widgets without a front end."""

import io
import math

import numpy as np
import pytest
import torch
from PIL import Image

from coursekit import widgets
from coursekit.train import fit
from coursekit.widgets import TrainingDashboard, image_slider, image_to_png, in_notebook, use_static

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


class FakeHandle:
    def __init__(self):
        self.updates = []

    def update(self, obj):
        self.updates.append(obj)


@pytest.fixture
def shown(monkeypatch):
    """Record what the widgets display (and pretend IPython runs, so static output is produced)."""
    displayed = []

    def fake_display(obj, display_id=False):
        displayed.append(obj)
        return FakeHandle() if display_id else None

    monkeypatch.setattr(widgets, "display", fake_display)
    monkeypatch.setattr("IPython.get_ipython", lambda: object())
    return displayed


def png_size(png: bytes) -> tuple[int, int]:
    assert png.startswith(PNG_MAGIC)
    return Image.open(io.BytesIO(png)).size


def counting_sampler(calls):
    def sample():
        calls.append(1)
        return torch.rand(4, 1, 8, 8)

    return sample


def test_mode_detection_and_overrides(monkeypatch):
    monkeypatch.delenv(widgets.WIDGETS_ENV_VAR, raising=False)
    assert not in_notebook()
    assert use_static() is True
    assert use_static(False) is False
    monkeypatch.setenv(widgets.WIDGETS_ENV_VAR, "live")
    assert use_static() is False and use_static(True) is True
    monkeypatch.setenv(widgets.WIDGETS_ENV_VAR, "statik")
    with pytest.raises(ValueError, match="did you mean 'static'"):
        use_static()


def test_static_dashboard_as_fit_callback_renders_one_final_png(shown):
    calls = []
    dash = TrainingDashboard(metrics=("loss",), sample_fn=counting_sampler(calls), every=2)
    assert dash.static
    result = fit(lambda batch, step: {"loss": 1.0 / (step + 1), "other": 0.0}, [None], 9, callbacks=[dash])
    assert result.finished
    assert dash.steps == list(range(9)) and dash.values["loss"] == result.history["loss"]
    assert set(dash.values) == {"loss"}
    assert len(calls) == 1, "static mode draws once, at the end"
    assert len(shown) == 1 and shown[0].data == dash.png
    width, height = png_size(dash.png)
    assert width > height > 100


def test_static_dashboard_without_ipython_displays_nothing(monkeypatch, capsys):
    monkeypatch.setattr("IPython.get_ipython", lambda: None)
    dash = TrainingDashboard(static=True)
    fit(lambda batch, step: 0.5, [None], 3, callbacks=[dash], progress=False)
    assert dash.png.startswith(PNG_MAGIC)
    assert capsys.readouterr().out == ""


def test_stop_button_click_sets_the_flag_and_stops_fit():
    dash = TrainingDashboard(static=True)

    def step(batch, step):
        if step == 3:
            dash.stop_button.click()
        return 1.0

    result = fit(step, [None], 50, callbacks=[dash], progress=False)
    assert dash.stop_requested and dash.stop_button.disabled
    assert result.stop_reason == "stopped" and result.history["step"] == [0, 1, 2, 3]
    dash.on_start({"step": []})
    assert not dash.stop_requested and not dash.stop_button.disabled


def test_live_dashboard_updates_one_display_handle(shown):
    calls = []
    dash = TrainingDashboard(("loss_d", "loss_g"), sample_fn=counting_sampler(calls), every=3, static=False)
    gan_like = lambda batch, step: {"loss_d": 0.7, "loss_g": 1.0 + step}
    fit(gan_like, [None], 9, callbacks=[dash], progress=False)
    controls, image = shown
    assert controls.children == (dash.stop_button, dash.status)
    assert image.data.startswith(PNG_MAGIC)
    handle = dash._handle
    assert isinstance(handle, FakeHandle)
    # on_start draws, then steps 3, 6 and 9, then on_end: one display and four in-place updates.
    assert len(handle.updates) == 4 and handle.updates[-1].data == dash.png
    assert len(calls) == 5
    assert dash.status.value == "step 9: loss_d 0.7, loss_g 9"


def test_dashboard_takes_over_a_resumed_history_and_aligns_metrics():
    dash = TrainingDashboard(metrics=None, static=True)
    dash.on_start({"step": [0, 1], "loss": [2.0, 1.0]})
    dash.on_step(2, {"loss": 0.5, "kl": 0.1})
    assert dash.steps == [0, 1, 2]
    assert dash.values["loss"] == [2.0, 1.0, 0.5]
    assert math.isnan(dash.values["kl"][0]) and dash.values["kl"][2] == 0.1


def test_dashboard_rejects_bad_arguments():
    with pytest.raises(ValueError, match="every"):
        TrainingDashboard(every=0)
    with pytest.raises(ValueError, match="sample_fn"):
        TrainingDashboard(sample_fn=torch.zeros(3))
    dash = TrainingDashboard(sample_fn=lambda: torch.full((2, 1, 4, 4), 2.0), static=True)
    dash.on_step(0, {"loss": 1.0})
    with pytest.raises(ValueError, match=r"values in \[0, 1\]"):
        dash.render()


def latent_image(z0, n):
    """A (1, 8, 8) image whose brightness follows z0 and whose bright rows follow n."""
    image = torch.full((1, 8, 8), (z0 + 3.0) / 6.0)
    image[:, :n] = 1.0
    return image


def test_image_slider_rerenders_when_a_slider_moves():
    slider = image_slider(latent_image, z0=(-3.0, 3.0), n=(1, 5), static=True)
    z0, n = slider.sliders["z0"], slider.sliders["n"]
    assert type(z0).__name__ == "FloatSlider" and type(n).__name__ == "IntSlider"
    assert (z0.value, n.value) == (0.0, 3)
    first = slider.image.value
    assert first == image_to_png(latent_image(0.0, 3))
    z0.value = 2.0
    assert slider.image.value != first
    assert slider.image.value == image_to_png(latent_image(2.0, 3)) == slider.png
    n.value = 5
    assert slider.values == {"z0": 2.0, "n": 5}
    assert slider.image.value == image_to_png(latent_image(2.0, 5))


def test_image_slider_shows_static_png_or_live_widget(shown):
    static = image_slider(latent_image, z0=(-3.0, 3.0, 0.5, 1.0), n=(0, 8, 2), static=True)
    static._ipython_display_()
    assert shown[-1].data == image_to_png(latent_image(1.0, 4))
    live = image_slider(latent_image, title="traversal", z0=(-3.0, 3.0), n=(1, 5), static=False)
    live.show()
    assert shown[-1] is live.widget
    assert live.widget.children[-1] is live.image and "traversal" in live.widget.children[0].value


@pytest.mark.parametrize(
    ("sliders", "message"),
    [
        ({}, "at least one slider"),
        ({"z": (1.0,)}, r"expected \(min, max\)"),
        ({"z": "wide"}, r"expected \(min, max\)"),
        ({"z": (3.0, -3.0)}, "min < max"),
        ({"z": (0, 4, 1, 9)}, "min <= value <= max"),
    ],
)
def test_image_slider_rejects_bad_slider_specs(sliders, message):
    with pytest.raises(ValueError, match=message):
        image_slider(lambda **values: torch.zeros(1, 4, 4), static=True, **sliders)


def test_image_to_png_layouts_and_enlargement():
    assert png_size(image_to_png(torch.rand(1, 8, 8))) == (256, 256)
    assert png_size(image_to_png(torch.rand(16, 3, 8, 8), min_size=10)) == (42, 42)
    assert png_size(image_to_png(np.zeros((300, 20)))) == (20, 300)
    assert png_size(image_to_png(np.ones((4, 6, 3)), min_size=12)) == (12, 8)
    from matplotlib.figure import Figure

    assert png_size(image_to_png(Figure(figsize=(2, 1), dpi=50))) == (100, 50)
    with pytest.raises(ValueError, match=r"values in \[0, 1\]"):
        image_to_png(np.full((4, 4), 1.5))
    with pytest.raises(ValueError, match="expected a torch.Tensor, numpy array or matplotlib Figure"):
        image_to_png([[0.0]])
    with pytest.raises(ValueError, match=r"\(H, W\) or \(H, W, C\)"):
        image_to_png(np.zeros((4, 4, 2)))
