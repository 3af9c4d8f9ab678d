"""The course's widgets (coursekit.ui: dashboard, image slider, voxel viewer, attribute editor): every control
changes what is shown, the Stop button stops ``fit`` (also in a real kernel, clicked by a comm message as a
front end does), and without a front end or ipywidgets each shows a PNG instead of a widget box. Every widget
lives in coursekit.ui and is shown by its one static-or-live display; the old module names still work.

tests/ui/test_widgets_ipywidgets7.py runs this file again under Colab's ipywidgets 7.7.1 and ipykernel 6.17.1.
"""

import importlib
import importlib.util
import io
import math
import os
import queue
import re
import subprocess
import sys
import time
import warnings
from pathlib import Path
from types import SimpleNamespace

import IPython.display
import numpy as np
import pytest
import torch
from PIL import Image

import coursekit
from coursekit.train import fit
from coursekit.ui import (
    AttributeEditor,
    ImageSlider,
    StaticOrLive,
    TrainingDashboard,
    VoxelViewer,
    base,
    dashboard,
    image_slider,
    image_to_png,
    in_notebook,
    use_static,
)

PACKAGE = Path(coursekit.__file__).parent

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

    monkeypatch.setattr(base, "display", fake_display)  # the one display every widget goes through
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
    monkeypatch.delenv(base.WIDGETS_ENV_VAR, raising=False)
    assert not in_notebook()
    assert use_static() is True
    assert use_static(False) is False
    monkeypatch.setenv(base.WIDGETS_ENV_VAR, "live")
    assert use_static() is False and use_static(True) is True
    monkeypatch.setenv(base.WIDGETS_ENV_VAR, "statik")
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


def test_static_dashboard_creates_no_widget():
    """An executed notebook saves the state of every widget created, seen or not: static creates none."""
    dash = TrainingDashboard(static=True)
    assert dash.stop_button is None and dash.status is None


def test_stop_button_click_sets_the_flag_and_stops_fit(shown):
    dash = TrainingDashboard(static=False)

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
    assert controls.children[1] is dash.status
    assert image.data.startswith(PNG_MAGIC)
    handle = dash._handle
    assert isinstance(handle, FakeHandle)
    # on_start draws, then steps 3, 6 and 9, then on_end: one display and four in-place updates.
    assert len(handle.updates) == 4 and handle.updates[-1].data == dash.png
    assert len({update.data for update in handle.updates}) == 4, "each redraw shows the new losses"
    assert len(calls) == 5
    assert dash.status.value == "step 9: loss_d 0.7, loss_g 9"


@pytest.mark.parametrize("supported", [True, False], ids=["clicks reach fit", "no ui events"])
def test_live_dashboard_shows_stop_where_a_click_reaches_fit_else_the_interrupt_hint(
    shown, monkeypatch, supported
):
    dash = TrainingDashboard(static=False, every=100)
    polls = []

    def deliver_click():  # what jupyter-ui-poll does in a kernel: run the pending click handler now
        polls.append(len(dash.steps))
        if len(polls) == 3:
            dash.stop_button.click()

    monkeypatch.setattr(dashboard, "ui_events_supported", lambda: supported)
    monkeypatch.setattr(dashboard, "process_ui_events", deliver_click)
    monkeypatch.setattr(dashboard, "POLL_SECONDS", 0.0)
    result = fit(lambda batch, step: 1.0, [None], 50, callbacks=[dash], progress=False)
    controls = shown[0].children[0]
    if supported:
        assert controls is dash.stop_button
        assert polls == [1, 2, 3] and result.stop_reason == "stopped" and result.history["step"] == [0, 1, 2]
    else:
        assert controls is not dash.stop_button and "interrupt the kernel" in controls.value
        assert polls == [] and result.stop_reason == "finished"


def test_dashboard_polls_for_clicks_at_most_every_poll_seconds(shown, monkeypatch):
    polls = []
    monkeypatch.setattr(dashboard, "ui_events_supported", lambda: True)
    monkeypatch.setattr(dashboard, "process_ui_events", lambda: polls.append(1))
    fit(lambda batch, step: 1.0, [None], 200, callbacks=[TrainingDashboard(static=False, every=1000)],
        progress=False)
    assert 1 <= len(polls) < 20, "200 fast steps must not poll the kernel 200 times"


def test_ui_events_need_a_kernel_with_do_one_iteration_and_jupyter_ui_poll(monkeypatch):
    assert dashboard.ui_events_supported() is False, "plain Python has no kernel to poll"
    dashboard.process_ui_events()  # and polling there does nothing
    if importlib.util.find_spec("jupyter_ui_poll") is None:
        pytest.skip("jupyter-ui-poll is not installed")
    kernel = SimpleNamespace()
    monkeypatch.setattr("IPython.get_ipython", lambda: SimpleNamespace(kernel=kernel))
    assert dashboard.ui_events_supported() is False, "ipykernel 7 has no do_one_iteration"
    kernel.do_one_iteration = lambda: None
    assert dashboard.ui_events_supported() is True
    monkeypatch.setitem(sys.modules, "jupyter_ui_poll", None)
    assert dashboard.ui_events_supported() is False, "without jupyter-ui-poll clicks wait for the cell to end"


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
    with pytest.raises(TypeError, match="sample_fn: expected a function returning images, got Tensor"):
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
    assert image_slider(latent_image, z0=(-3.0, 3.0), n=(1, 5), static=True).sliders == {}, "static"
    slider = image_slider(latent_image, z0=(-3.0, 3.0), n=(1, 5), static=False)
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


def tiny_voxels(z):
    """(1, z_dim) -> (1, 1, 8, 8, 8) occupancy: a soft ball whose radius follows z[0] and centre z[1]."""
    axis = torch.linspace(-1, 1, 8)
    x, y, up = torch.meshgrid(axis, axis, axis, indexing="ij")
    radius = 0.6 + 0.2 * torch.tanh(z[0, 0])
    distance = ((x - 0.4 * torch.tanh(z[0, 1])) ** 2 + y**2 + up**2).sqrt()
    return torch.sigmoid(6 * (radius - distance))[None, None]


def test_voxel_viewer_every_slider_and_the_button_change_the_picture():
    viewer = VoxelViewer(tiny_voxels, z_dim=2, static=False)
    new_values = {"azim": 30, "elev": 60, "threshold": 0.3, "t": 1.0}
    assert set(viewer.sliders) == set(new_values)
    for name, value in new_values.items():
        before = viewer.image.value
        viewer.sliders[name].value = value
        assert viewer.values[name] == value
        assert viewer.image.value != before, f"moving {name} did not change the picture"
        assert viewer.image.value == viewer.png
    before = viewer.image.value
    button = next(child for child in viewer.widget.children if type(child).__name__ == "Button")
    button.click()
    assert viewer.image.value != before, "new sample did not change the picture"


def test_attribute_editor_every_checkbox_changes_the_face():
    names = ["smiling", "eyeglasses", "hat"]

    def edit(values):  # one colour channel per attribute
        return torch.stack([torch.full((8, 8), 0.2 + 0.6 * v) for v in values])

    editor = AttributeEditor(edit, torch.rand(3, 8, 8), names, [0, 1, 0], static=False)
    assert [box.description for box in editor.checkboxes] == names
    for index, box in enumerate(editor.checkboxes):
        before = editor.image.value
        box.value = not box.value
        assert editor.values[index] == int(box.value)
        assert editor.image.value != before, f"toggling {names[index]} did not change the face"
    assert editor.values == [1, 0, 1]


def build_every_widget():
    """One of each widget with its automatic mode, shown; the dashboard after a short fit."""
    edit = lambda values: torch.full((3, 8, 8), 0.3 + 0.4 * values[0])
    built = [
        image_slider(latent_image, z0=(-3.0, 3.0), n=(1, 5)),
        VoxelViewer(tiny_voxels, z_dim=2),
        AttributeEditor(edit, torch.rand(3, 8, 8), ["smiling"], [1]),
    ]
    for widget in built:
        widget.show()
    dash = TrainingDashboard(sample_fn=lambda: torch.rand(4, 1, 8, 8))
    fit(lambda batch, step: 1.0, [None], 3, callbacks=[dash], progress=False)
    return [*built, dash]


@pytest.mark.parametrize("why", ["COURSEKIT_WIDGETS=static", "no front end", "no ipywidgets"])
def test_static_fallback_shows_one_png_per_widget_and_no_widget_box(shown, monkeypatch, why):
    monkeypatch.delenv(base.WIDGETS_ENV_VAR, raising=False)
    if why != "no front end":
        monkeypatch.setattr(base, "in_notebook", lambda: True)  # a kernel, which would otherwise go live
    if why == "COURSEKIT_WIDGETS=static":
        monkeypatch.setenv(base.WIDGETS_ENV_VAR, "static")
    if why == "no ipywidgets":
        monkeypatch.setitem(sys.modules, "ipywidgets", None)
    built = build_every_widget()
    assert all(widget.static for widget in built)
    assert len(shown) == len(built), shown
    for obj, widget in zip(shown, built, strict=True):
        assert isinstance(obj, IPython.display.Image), f"{type(widget).__name__} showed {obj!r}"
        assert obj.data.startswith(PNG_MAGIC)


def test_live_mode_shows_widget_boxes(shown, monkeypatch):
    monkeypatch.setenv(base.WIDGETS_ENV_VAR, "live")
    built = build_every_widget()
    assert not any(widget.static for widget in built)
    boxes = [obj for obj in shown if not isinstance(obj, IPython.display.Image)]
    assert [type(box).__name__ for box in boxes] == ["VBox", "VBox", "VBox", "HBox"]


@pytest.mark.parametrize(
    ("sliders", "message"),
    [
        ({}, "at least one slider"),
        ({"z": (1.0,)}, r"expected \(min, max\)"),
        ({"z": (3.0, -3.0)}, "min < max"),
        ({"z": (0, 4, 1, 9)}, "min <= value <= max"),
    ],
)
def test_image_slider_rejects_bad_slider_specs(sliders, message):
    with pytest.raises(ValueError, match=message):
        image_slider(lambda **values: torch.zeros(1, 4, 4), static=True, **sliders)


@pytest.mark.parametrize("spec", ["wide", (0.0, "1"), (0, True), 3.0])
def test_image_slider_specs_of_the_wrong_type_raise_type_error(spec):
    with pytest.raises(TypeError, match=r"slider 'z': expected \(min, max\)"):
        image_slider(lambda **values: torch.zeros(1, 4, 4), static=True, z=spec)


def test_widgets_given_a_non_function_raise_type_error():
    with pytest.raises(TypeError, match="fn: expected a function of the slider values"):
        image_slider(torch.zeros(1, 4, 4), static=True, z=(0.0, 1.0))
    with pytest.raises(TypeError, match="source: expected a generator z -> volumes .* got list"):
        VoxelViewer([torch.zeros(1, 8, 8, 8)], static=True)


def test_image_to_png_layouts_and_enlargement():
    assert png_size(image_to_png(torch.rand(1, 8, 8))) == (256, 256)
    assert png_size(image_to_png(torch.rand(16, 3, 8, 8), min_size=10)) == (42, 42)
    assert png_size(image_to_png(np.zeros((300, 20)))) == (20, 300)
    assert png_size(image_to_png(np.ones((4, 6, 3)), min_size=12)) == (12, 8)
    from matplotlib.figure import Figure

    assert png_size(image_to_png(Figure(figsize=(2, 1), dpi=50))) == (100, 50)
    with pytest.raises(ValueError, match=r"values in \[0, 1\]"):
        image_to_png(np.full((4, 4), 1.5))
    with pytest.raises(TypeError, match="expected a torch.Tensor, numpy array or matplotlib Figure, got"):
        image_to_png([[0.0]])
    with pytest.raises(ValueError, match=r"\(H, W\) or \(H, W, C\)"):
        image_to_png(np.zeros((4, 4, 2)))


def test_every_widget_shares_the_one_static_or_live_display():
    for widget in (TrainingDashboard, ImageSlider, VoxelViewer, AttributeEditor):
        assert issubclass(widget, StaticOrLive), widget
        assert "_ipython_display_" not in vars(widget) and "show" not in vars(widget), widget


def python_files_outside_ui():
    return [path for path in PACKAGE.rglob("*.py") if PACKAGE / "ui" not in path.parents]


WIDGET_CODE = re.compile(
    r"^\s*(?:import|from)\s+ipywidgets\b|_ipython_display_|\bStaticOrLive\b|ipywidgets_or_none", re.MULTILINE
)


def test_every_widget_lives_in_coursekit_ui():
    """No module outside coursekit/ui imports ipywidgets or defines a notebook display of its own."""
    offenders = {
        str(path.relative_to(PACKAGE)): sorted(set(WIDGET_CODE.findall(path.read_text(encoding="utf-8"))))
        for path in python_files_outside_ui()
    }
    offenders = {path: found for path, found in offenders.items() if found}
    assert offenders == {}, f"widget code outside coursekit/ui: {offenders}"
    assert WIDGET_CODE.search((PACKAGE / "ui" / "voxels.py").read_text()), "the scan must see widget code"


def test_importing_coursekit_ui_imports_no_tensorflow():
    code = "import sys, coursekit, coursekit.ui; print('tensorflow' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"


@pytest.mark.parametrize(
    ("old", "new", "names"),
    [
        ("coursekit.widgets", "coursekit.ui", ("TrainingDashboard", "image_slider")),
        ("coursekit.voxel_widget", "coursekit.ui.voxels", ("voxel_viewer", "VoxelViewer")),
    ],
)
def test_old_widget_modules_still_work_and_warn_once(old, new, names):
    alias = importlib.reload(importlib.import_module(old))  # a fresh alias, as in a new kernel
    target = importlib.import_module(new)
    with pytest.warns(DeprecationWarning, match=f"{old} moved to {new}") as caught:
        first = getattr(alias, names[0])
    assert len(caught) == 1 and caught[0].filename == __file__, "the warning names the caller's line"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        second = getattr(alias, names[1])  # warned once already: no second warning
    assert (first, second) == (getattr(target, names[0]), getattr(target, names[1]))
    with pytest.raises(AttributeError, match=f"moved to '{new}'"):
        alias.no_such_widget  # noqa: B018  (the read itself must fail)


def test_ck_widgets_is_the_deprecated_alias_of_ck_ui():
    import coursekit as ck

    alias = importlib.reload(ck.widgets)
    assert alias.__name__ == "coursekit.widgets"
    with pytest.warns(DeprecationWarning, match="coursekit.ui"):
        assert ck.widgets.image_slider is ck.ui.image_slider


KERNEL_CELL = """
import time
from coursekit.train import fit
from coursekit.ui import TrainingDashboard
dash = TrainingDashboard(static=False, every=10_000)
result = fit(lambda batch, step: time.sleep(0.01) or 1.0, [None], {steps}, callbacks=[dash], progress=False)
print("fit:", result.stop_reason, len(result.history["step"]))
"""


def run_in_kernel_and_click_stop(steps: int, timeout: float = 120.0):
    """Run a fit with a live dashboard in a new kernel, queue a second cell behind it (as Run all does) and,
    once the dashboard is shown, click Stop with a comm message as a front end does. Returns the model state
    of each comm, the first control beside the status line, and the two cells' text outputs."""
    from jupyter_client.manager import start_new_kernel

    env = {**os.environ, base.WIDGETS_ENV_VAR: "live", "MPLBACKEND": "Agg"}
    env["PYDEVD_DISABLE_FILE_VALIDATION"] = "1"  # ipykernel 6's debugger warns on stderr otherwise
    manager, client = start_new_kernel(kernel_name="python3", env=env, startup_timeout=60)
    try:
        first = client.execute(KERNEL_CELL.format(steps=steps))
        second = client.execute('print("next:", result.stop_reason)')
        models, texts, control, deadline = {}, {first: "", second: ""}, None, time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                msg = client.get_iopub_msg(timeout=1)
            except queue.Empty:
                continue
            kind, content, parent = msg["msg_type"], msg["content"], msg["parent_header"].get("msg_id")
            if kind == "comm_open":
                models[content["comm_id"]] = content["data"]["state"]
            elif kind == "display_data" and control is None:
                model_id = content["data"].get("application/vnd.jupyter.widget-view+json", {}).get("model_id")
                if model_id in models and models[model_id]["_model_name"] == "HBoxModel":
                    control = models[model_id]["children"][0].removeprefix("IPY_MODEL_")
                    stop = next(i for i, m in models.items() if m.get("description") == "Stop")
                    click = {"comm_id": stop, "data": {"method": "custom", "content": {"event": "click"}}}
                    client.shell_channel.send(client.session.msg("comm_msg", click))
            elif kind in ("stream", "error") and parent in texts:
                texts[parent] += content.get("text") or "\n".join(content["traceback"])
            elif kind == "status" and content["execution_state"] == "idle" and parent == second:
                return models, control, texts[first], texts[second]
        raise AssertionError(f"the kernel did not finish both cells in {timeout} s: {texts}")
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)


@pytest.mark.slow
def test_stop_button_stops_fit_in_a_real_kernel_or_the_dashboard_says_to_interrupt():
    """Where clicks reach a running cell (jupyter-ui-poll with ipykernel 6, as on Colab) the Stop click ends
    fit within a poll and the queued cell runs after it; elsewhere (ipykernel 7) the dashboard shows the
    interrupt hint in the Stop button's place and fit runs to its end."""
    import ipykernel.kernelbase

    clicks_reach_fit = importlib.util.find_spec("jupyter_ui_poll") is not None and hasattr(
        ipykernel.kernelbase.Kernel, "do_one_iteration"
    )
    steps = 3000 if clicks_reach_fit else 30
    models, control, first, second = run_in_kernel_and_click_stop(steps)
    if clicks_reach_fit:
        assert models[control].get("description") == "Stop", models[control]
        reason, done = first.split("fit:")[1].split()
        assert reason == "stopped" and int(done) < steps // 2, first
        assert second == "next: stopped\n", "the queued cell ran before fit ended, or failed"
    else:
        assert "interrupt the kernel" in models[control].get("value", ""), models[control]
        assert first.endswith(f"fit: finished {steps}\n") and second == "next: finished\n", (first, second)


def test_progress_bar_is_plain_text_when_static_and_tqdm_auto_when_live(monkeypatch):
    import tqdm.auto
    import tqdm.std

    from coursekit.ui import base

    monkeypatch.setenv("COURSEKIT_WIDGETS", "static")
    with base.progress_bar(total=2, disable=True) as bar:
        assert type(bar) is tqdm.std.tqdm, "static pages cannot show a notebook widget bar"
    monkeypatch.setenv("COURSEKIT_WIDGETS", "live")
    with base.progress_bar(total=2, disable=True) as bar:
        assert type(bar) is tqdm.auto.tqdm
