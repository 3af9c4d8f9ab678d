"""coursekit.viz: grid arithmetic, pixel values, the figures' axes and artists, and input validation."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

import coursekit
from coursekit import viz


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def images(b=5, c=3, h=6, w=7, seed=0):
    return torch.rand(b, c, h, w, generator=torch.Generator().manual_seed(seed))


# --------------------------------------------------------------------------------------------- make_grid
@pytest.mark.parametrize(
    ("count", "nrow", "pad", "rows", "columns"),
    [
        (5, None, 2, 2, 3),
        (9, None, 0, 3, 3),
        (5, 2, 1, 3, 2),
        (3, 8, 2, 1, 3),
        (1, None, 3, 1, 1),
        (10, 4, 2, 3, 4),
    ],
)
def test_grid_shape_arithmetic(count, nrow, pad, rows, columns):
    grid = viz.make_grid(images(count), nrow=nrow, pad=pad)
    assert grid.shape == (rows * (6 + pad) + pad, columns * (7 + pad) + pad, 3)
    assert viz.grid_shape(count, nrow) == (rows, columns)


def test_grid_preserves_values_and_fills_padding():
    x = images(5)
    grid = viz.make_grid(x, nrow=3, pad=2, pad_value=0.25)
    for index in range(5):
        row, column = divmod(index, 3)
        top, left = 2 + row * 8, 2 + column * 9
        np.testing.assert_array_equal(grid[top : top + 6, left : left + 7], x[index].permute(1, 2, 0).numpy())
    assert np.all(grid[:2] == 0.25) and np.all(grid[:, :2] == 0.25)
    assert np.all(grid[10:, 20:] == 0.25)  # the empty sixth cell


def test_grid_accepts_numpy_grey_and_single_images():
    grey = np.linspace(0, 1, 4 * 8 * 8, dtype=np.float64).reshape(4, 1, 8, 8)
    grid = viz.make_grid(grey, pad=0)
    assert grid.shape == (16, 16, 1) and grid.dtype == np.float32
    np.testing.assert_allclose(grid[8:, 8:, 0], grey[3, 0], atol=1e-7)
    assert viz.make_grid(images(1)[0], pad=0).shape == (6, 7, 3)


@pytest.mark.parametrize(
    ("value", "kwargs", "message"),
    [
        (
            torch.rand(2, 2, 4, 4),
            {},
            r"images: expected 1 or 3 channels in dim 1 \(B, C, H, W\), got shape \(2, 2, 4, 4\)",
        ),
        (
            torch.rand(4, 4),
            {},
            r"images: expected a 4-D \(B, C, H, W\) or 3-D \(C, H, W\) batch, got shape \(4, 4\)",
        ),
        (
            torch.rand(2, 3, 4, 4) * 2 - 1,
            {},
            r"images: expected values in \[0, 1\], got values in .*\(x \+ 1\) / 2",
        ),
        (torch.full((1, 1, 2, 2), float("nan")), {}, r"images: expected finite values in \[0, 1\], got NaN"),
        (torch.zeros(0, 3, 4, 4), {}, r"images: expected at least one image, got shape \(0, 3, 4, 4\)"),
        (torch.rand(2, 3, 4, 4), {"nrow": 0}, r"nrow: expected an integer >= 1, got 0"),
        (torch.rand(2, 3, 4, 4), {"pad": -1}, r"pad: expected an integer >= 0, got -1"),
        (torch.rand(2, 3, 4, 4), {"pad_value": 2}, r"pad_value: expected a number in \[0, 1\], got 2"),
    ],
)
def test_make_grid_bad_input(value, kwargs, message):
    with pytest.raises(ValueError, match=message):
        viz.make_grid(value, **kwargs)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: viz.make_grid([[0.0]]), r"images: expected a torch.Tensor or numpy array, got list"),
        (lambda: viz.make_grid(np.array([["a"]])), r"images: expected numeric values, got dtype <U1"),
        (lambda: viz.compare({"a": torch.rand(3, 8, 8)}, crop=(1, 2)), r"crop: expected a \(top, left"),
        (lambda: viz.compare([torch.rand(3, 8, 8)]), r"images: expected a dict \{name: \(C, H, W\) image\}"),
        (lambda: viz.plot_losses({"g": [1.0, "x"]}), r"history\['g'\]: expected a list of numbers, got list"),
        (lambda: viz.plot_losses([{"loss": 1.0}, 3.0]), r"history: expected a list of dicts"),
        (lambda: viz.plot_losses("loss"), r"history: expected a dict \{name: \[values\]\} or a non-empty"),
        (lambda: viz.plot_voxels(np.zeros((4, 4, 4)), threshold="half"), r"threshold: expected a number"),
    ],
)
def test_wrong_types_raise_type_error(call, message):
    with pytest.raises(TypeError, match=message):
        call()


# --------------------------------------------------------------------------------------------- show_grid
def test_show_grid_returns_a_figure_with_title_and_labels():
    fig = viz.show_grid(images(5), nrow=3, title="samples", labels=list("abcde"))
    assert isinstance(fig, Figure) and len(fig.axes) == 1
    ax = fig.axes[0]
    assert ax.get_title() == "samples"
    assert [t.get_text() for t in ax.texts] == list("abcde")
    assert ax.images[0].get_array().shape == (2 * 8 + 2, 3 * 9 + 2, 3)


def test_show_grid_draws_into_a_given_axes_and_ck_show_forwards():
    fig, (left, right) = plt.subplots(1, 2)
    assert viz.show_grid(images(2, c=1), ax=right) is fig
    assert len(right.images) == 1 and len(left.images) == 0
    assert right.images[0].get_cmap().name == "gray"
    assert coursekit.show(images(4), nrow=2, title="via ck.show", labels=["1", "2", "3", "4"]) is None
    shown = plt.gcf()  # ck.show returns nothing so a notebook displays the grid once; pyplot holds it
    assert shown is not fig and shown.axes[0].get_title() == "via ck.show"


def test_show_grid_label_count_must_match():
    with pytest.raises(ValueError, match=r"labels: expected one label per image \(5\), got 2"):
        viz.show_grid(images(5), labels=["a", "b"])


# --------------------------------------------------------------------------------------------- compare
def test_compare_without_crop_has_one_axes_per_image_and_captions():
    x = images(3, h=20, w=20)
    fig = viz.compare({"lr": x[0], "sr": x[1], "hr": x[2]}, captions={"sr": "PSNR 24.10 dB"})
    assert len(fig.axes) == 3
    assert [ax.get_title() for ax in fig.axes] == ["lr", "sr\nPSNR 24.10 dB", "hr"]


def test_compare_with_crop_draws_boxes_and_zoomed_crops():
    x = images(2, h=20, w=24)
    grey = x[0, :1]
    fig = viz.compare({"a": x[0], "b": x[1][None], "grey": grey}, crop=(3, 5, 8), zoom=3)
    assert len(fig.axes) == 6
    top_row, bottom_row = fig.axes[:3], fig.axes[3:]  # row-major: the full images, then their crops
    for ax in top_row:
        boxes = [p for p in ax.patches if isinstance(p, Rectangle)]
        assert len(boxes) == 1 and boxes[0].get_xy() == (4.5, 2.5) and boxes[0].get_width() == 8
    zoomed = bottom_row[0].images[0].get_array()
    assert zoomed.shape == (24, 24, 3)
    np.testing.assert_allclose(zoomed[::3, ::3], x[0, :, 3:11, 5:13].permute(1, 2, 0).numpy(), atol=1e-7)


@pytest.mark.parametrize(
    ("value", "kwargs", "message"),
    [
        ({}, {}, r"images: expected a non-empty dict \{name: \(C, H, W\) image\}, got dict"),
        (
            {"a": torch.rand(3, 8, 8), "b": torch.rand(3, 8, 9)},
            {},
            r"images: expected the same height and width",
        ),
        (
            {"a": torch.rand(2, 3, 8, 8)},
            {},
            r"images\['a'\]: expected one \(C, H, W\) image, got shape \(2, 3, 8, 8\)",
        ),
        (
            {"a": torch.rand(3, 8, 8)},
            {"crop": (4, 4, 5)},
            r"crop: expected a box inside the 8x8 images .* got \(4, 4, 5\)",
        ),
        (
            {"a": torch.rand(3, 8, 8)},
            {"captions": {"b": "x"}},
            r"captions: expected keys among the image names \['a'\]",
        ),
        (
            {"a": torch.rand(3, 8, 8)},
            {"crop": (0, 0, 4), "zoom": 0},
            r"zoom: expected an integer >= 1, got 0",
        ),
    ],
)
def test_compare_bad_input(value, kwargs, message):
    with pytest.raises(ValueError, match=message):
        viz.compare(value, **kwargs)


# --------------------------------------------------------------------------------------------- losses
def test_plot_losses_from_a_dict_with_smoothing_and_log_scale():
    history = {"g": list(np.linspace(2.0, 1.0, 30)), "d": [0.7] * 30}
    fig = viz.plot_losses(history, smooth=5, log=True, title="GAN")
    ax = fig.axes[0]
    assert len(ax.lines) == 4  # raw + moving average for each loss
    assert ax.get_yscale() == "log" and ax.get_title() == "GAN"
    smoothed = ax.lines[1]
    np.testing.assert_allclose(smoothed.get_xdata(), np.arange(4, 30))
    np.testing.assert_allclose(smoothed.get_ydata(), np.convolve(history["g"], np.ones(5) / 5, "valid"))


def test_plot_losses_from_records_uses_the_step_key():
    records = [{"step": 10 * i, "loss": 1.0 / (i + 1), "phase": "train"} for i in range(6)]
    records[3]["val_loss"] = 0.5
    fig = viz.plot_losses(records)
    ax = fig.axes[0]
    assert [line.get_label() for line in ax.lines] == ["loss", "val_loss"]
    np.testing.assert_array_equal(ax.lines[0].get_xdata(), [0, 10, 20, 30, 40, 50])
    np.testing.assert_array_equal(ax.lines[1].get_xdata(), [30])
    assert ax.get_xlabel() == "step" and ax.get_yscale() == "linear"


def test_moving_average():
    np.testing.assert_allclose(viz.moving_average(np.array([1.0, 2, 3, 4]), 2), [1.5, 2.5, 3.5])


@pytest.mark.parametrize(
    ("history", "kwargs", "message"),
    [
        ([], {}, r"history: expected a dict \{name: \[values\]\} or a non-empty list of dicts, got list"),
        ([{"step": 0}], {}, r"history: expected at least one numeric value to plot, got none"),
        ({"g": [1.0, 0.0]}, {"log": True}, r"history\['g'\]: expected positive values for log=True, got 0"),
        ({"g": [1.0, 2.0]}, {"smooth": 0}, r"smooth: expected an integer >= 1, got 0"),
    ],
)
def test_plot_losses_bad_input(history, kwargs, message):
    with pytest.raises(ValueError, match=message):
        viz.plot_losses(history, **kwargs)


# --------------------------------------------------------------------------------------------- voxels
def test_downsample_occupancy_keeps_thin_parts():
    grid = np.zeros((64, 64, 64), dtype=bool)
    grid[10, 20, :] = True  # a one-voxel-thin rod along z
    small = viz.downsample_occupancy(grid, max_size=32)
    assert small.shape == (32, 32, 32)
    assert small[5, 10].all() and small.sum() == 32
    assert viz.downsample_occupancy(grid[:20, :20, :20], 32).shape == (20, 20, 20)
    assert viz.downsample_occupancy(np.ones((33, 10, 10), bool), 32).shape == (17, 5, 5)


def test_plot_voxels_draws_a_3d_figure():
    volume = torch.zeros(1, 12, 12, 12)
    volume[0, 2:4, 3:5, 0:8] = 1.0  # 2 x 2 x 8: every voxel has a visible face
    fig = viz.plot_voxels(volume, elev=10, azim=30)
    ax = fig.axes[0]
    assert ax.name == "3d" and len(fig.axes) == 1
    assert ax.get_title().startswith("32 voxels > 0.5")
    assert (ax.elev, ax.azim) == (10, 30)
    assert len(ax.collections) == 32  # one Poly3DCollection per visible voxel


def test_plot_voxels_downsamples_and_says_so_and_handles_empty_volumes():
    volume = np.zeros((40, 40, 40), dtype=np.float32)
    volume[:4, :4, :4] = 1.0
    fig = viz.plot_voxels(volume, max_size=8)
    assert "max-pooled 40x40x40 -> 8x8x8" in fig.axes[0].get_title()
    empty = viz.plot_voxels(np.zeros((6, 6, 6)))
    assert empty.axes[0].get_title().startswith("0 voxels")


@pytest.mark.parametrize(
    ("volume", "kwargs", "message"),
    [
        (
            np.zeros((4, 4)),
            {},
            r"volume: expected a \(D, H, W\) or \(1, D, H, W\) voxel grid, got shape \(4, 4\)",
        ),
        (np.zeros((2, 4, 4, 4)), {}, r"volume: expected a \(D, H, W\) or \(1, D, H, W\) voxel grid"),
        (np.full((4, 4, 4), np.nan), {}, r"volume: expected finite values"),
        (np.zeros((4, 4, 4)), {"max_size": 0}, r"max_size: expected an integer >= 1, got 0"),
    ],
)
def test_plot_voxels_bad_input(volume, kwargs, message):
    with pytest.raises(ValueError, match=message):
        viz.plot_voxels(volume, **kwargs)


def test_plot_voxels_needs_a_3d_axes():
    _, ax = plt.subplots()
    with pytest.raises(
        ValueError, match=r"ax: expected a 3-D Axes \(projection='3d'\), got a 'rectilinear' Axes"
    ):
        viz.plot_voxels(np.ones((2, 2, 2)), ax=ax)
