"""Figures for the notebooks: image grids, side-by-side comparisons with zoomed crops, loss curves and voxels.

Every function takes torch tensors or numpy arrays in the course layout (images (B, C, H, W) in [0, 1],
1 or 3 channels; voxels (D, H, W)), validates them (ValueError naming expected and actual), draws with
matplotlib (works headless with ``MPLBACKEND=Agg``) and returns the ``matplotlib.figure.Figure`` so tests
and notebook cells can inspect it. Figures are made with pyplot, so a notebook shows them by itself: end
the line with ``;`` or assign the result (``fig = ck.show(x)``) so that the returned figure is not shown
a second time.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

from .errors import describe, expect_positive_int, expect_probability

STEP_KEYS = ("step", "iteration", "iter", "epoch")


# --------------------------------------------------------------------------------------------- validation
def _as_numpy(what: str, x) -> np.ndarray:
    """A torch tensor or numpy array as a float numpy array (other types are rejected)."""
    if hasattr(x, "detach") and hasattr(x, "cpu"):
        x = x.detach().cpu()
        x = x.float().numpy() if x.is_floating_point() else x.numpy()
    if not isinstance(x, np.ndarray):
        raise TypeError(f"{what}: expected a torch.Tensor or numpy array, got {describe(x)}")
    if x.dtype == bool or not np.issubdtype(x.dtype, np.number):
        raise TypeError(f"{what}: expected numeric values, got dtype {x.dtype}")
    return x


def _expect_unit_range(what: str, x: np.ndarray) -> np.ndarray:
    if x.size and not np.isfinite(x).all():
        raise ValueError(f"{what}: expected finite values in [0, 1], got NaN or inf")
    if x.size and (x.min() < -1e-6 or x.max() > 1 + 1e-6):
        raise ValueError(
            f"{what}: expected values in [0, 1], got values in [{x.min():.4g}, {x.max():.4g}] "
            "(for a [-1, 1] model output show (x + 1) / 2)"
        )
    return np.clip(x.astype(np.float32), 0.0, 1.0)


def _as_images(what: str, images) -> np.ndarray:
    """Images as a float32 numpy batch (B, C, H, W) with C in {1, 3} and values in [0, 1]."""
    x = _as_numpy(what, images)
    if x.ndim == 3:
        x = x[None]
    if x.ndim != 4:
        raise ValueError(f"{what}: expected a 4-D (B, C, H, W) or 3-D (C, H, W) batch, got shape {x.shape}")
    if x.shape[0] == 0:
        raise ValueError(f"{what}: expected at least one image, got shape {x.shape}")
    if x.shape[1] not in (1, 3):
        raise ValueError(f"{what}: expected 1 or 3 channels in dim 1 (B, C, H, W), got shape {x.shape}")
    return _expect_unit_range(what, x)


def _imshow(ax, image_hwc: np.ndarray) -> None:
    """Show an (H, W, C) image in [0, 1] without resampling blur; grey for one channel."""
    if image_hwc.shape[-1] == 1:
        ax.imshow(image_hwc[..., 0], cmap="gray", vmin=0.0, vmax=1.0, interpolation="nearest")
    else:
        ax.imshow(image_hwc, vmin=0.0, vmax=1.0, interpolation="nearest")
    ax.set_axis_off()


# --------------------------------------------------------------------------------------------- grids
def grid_shape(count: int, nrow: int | None = None) -> tuple[int, int]:
    """(rows, columns) of a grid of ``count`` images with ``nrow`` images per row (default: about square)."""
    columns = nrow if nrow is not None else math.ceil(math.sqrt(count))
    columns = min(columns, count)
    return math.ceil(count / columns), columns


def make_grid(images, nrow: int | None = None, pad: int = 2, pad_value: float = 1.0) -> np.ndarray:
    """Tile a batch (B, C, H, W) in [0, 1] into one (H', W', C) numpy image, ``nrow`` images per row.

    As ``torchvision.utils.make_grid``: ``pad`` pixels of ``pad_value`` around and between the images, so
    H' = rows (H + pad) + pad and W' = columns (W + pad) + pad. The default ``nrow`` is ceil(sqrt(B)).
    """
    x = _as_images("images", images)
    if nrow is not None:
        expect_positive_int("nrow", nrow)
    expect_positive_int("pad", pad, minimum=0)
    expect_probability("pad_value", pad_value)
    count, channels, height, width = x.shape
    rows, columns = grid_shape(count, nrow)
    grid = np.full(
        (rows * (height + pad) + pad, columns * (width + pad) + pad, channels), pad_value, dtype=np.float32
    )
    for index in range(count):
        row, column = divmod(index, columns)
        top, left = pad + row * (height + pad), pad + column * (width + pad)
        grid[top : top + height, left : left + width] = x[index].transpose(1, 2, 0)
    return grid


def _new_figure(figsize, **subplot_kw):
    import matplotlib.pyplot as plt

    fig = plt.figure(figsize=figsize)
    return fig, fig.add_subplot(1, 1, 1, **subplot_kw)


def show_grid(
    images,
    nrow: int | None = None,
    title: str | None = None,
    labels: Sequence[str] | None = None,
    ax=None,
    figsize: tuple[float, float] | None = None,
):
    """Show a batch (B, C, H, W) in [0, 1] as one grid (``make_grid``); return the Figure.

    ``labels``: one caption per image, written in the corner of its cell. ``ax``: draw into this Axes
    instead of a new figure. Small images (e.g. 8x8 digits) are shown as crisp pixels.
    """
    x = _as_images("images", images)
    pad = 2
    grid = make_grid(x, nrow=nrow, pad=pad)
    if labels is not None:
        labels = [str(label) for label in labels]
        if len(labels) != x.shape[0]:
            raise ValueError(f"labels: expected one label per image ({x.shape[0]}), got {len(labels)}")
    _, columns = grid_shape(x.shape[0], nrow)
    own_figure = ax is None
    if own_figure:
        if figsize is None:
            width = min(12.0, max(3.0, 1.5 * columns))
            figsize = (width, min(12.0, max(2.0, width * grid.shape[0] / grid.shape[1])))
        _, ax = _new_figure(figsize)
    _imshow(ax, grid)
    if title is not None:
        ax.set_title(title)
    if labels is not None:
        height, width = x.shape[-2:]
        for index, label in enumerate(labels):
            row, column = divmod(index, columns)
            ax.text(
                pad + column * (width + pad) + 1,
                pad + row * (height + pad) + 1,
                label,
                fontsize=8,
                va="top",
                ha="left",
                color="black",
                bbox=dict(facecolor="white", alpha=0.7, lw=0, pad=1),
            )
    if own_figure:
        ax.figure.tight_layout()
    return ax.figure


# --------------------------------------------------------------------------------------------- compare
def _expect_crop(crop, height: int, width: int) -> tuple[int, int, int]:
    if (
        not isinstance(crop, (tuple, list))
        or len(crop) != 3
        or not all(isinstance(v, int) and not isinstance(v, bool) for v in crop)
    ):
        raise TypeError(f"crop: expected a (top, left, size) tuple of 3 integers, got {crop!r}")
    top, left, size = crop
    if top < 0 or left < 0 or size < 1 or top + size > height or left + size > width:
        raise ValueError(
            f"crop: expected a box inside the {height}x{width} images (top >= 0, left >= 0, size >= 1, "
            f"top + size <= {height}, left + size <= {width}), got {tuple(crop)}"
        )
    return top, left, size


def compare(
    images: Mapping[str, object],
    crop: tuple[int, int, int] | None = None,
    zoom: int = 4,
    captions: Mapping[str, str] | None = None,
    figsize: tuple[float, float] | None = None,
):
    """Images side by side, each titled by its name (and caption, e.g. a PSNR), with an optional zoom.

    images: {name: (C, H, W) image in [0, 1]}, all the same height and width (upsample a low-resolution
    input first). ``crop=(top, left, size)`` draws that box on every full image and adds a second row with
    the box's contents enlarged ``zoom`` times by pixel repetition, so the pixels are seen as they are.
    Returns the Figure (one Axes per image, two with a crop).
    """
    if not isinstance(images, Mapping):
        raise TypeError(f"images: expected a dict {{name: (C, H, W) image}}, got {describe(images)}")
    if not images:
        raise ValueError(
            f"images: expected a non-empty dict {{name: (C, H, W) image}}, got {describe(images)}"
        )
    arrays = {}
    for name, image in images.items():
        array = _as_numpy(f"images[{name!r}]", image)
        if array.ndim == 4 and array.shape[0] == 1:
            array = array[0]
        if array.ndim != 3:
            raise ValueError(f"images[{name!r}]: expected one (C, H, W) image, got shape {array.shape}")
        arrays[name] = _as_images(f"images[{name!r}]", array)[0].transpose(1, 2, 0)
    sizes = {name: a.shape[:2] for name, a in arrays.items()}
    if len(set(sizes.values())) > 1:
        raise ValueError(f"images: expected the same height and width for all, got {sizes}")
    height, width = next(iter(sizes.values()))
    captions = dict(captions or {})
    unknown = sorted(set(captions) - set(arrays))
    if unknown:
        raise ValueError(f"captions: expected keys among the image names {list(arrays)}, got {unknown}")
    expect_positive_int("zoom", zoom)
    box = _expect_crop(crop, height, width) if crop is not None else None

    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    rows, columns = (2 if box else 1), len(arrays)
    if figsize is None:
        figsize = (3.0 * columns, 3.0 * rows * (height / width if not box else 1.0) + 0.5)
    fig, axes = plt.subplots(rows, columns, figsize=figsize, squeeze=False)
    for column, (name, image) in enumerate(arrays.items()):
        ax = axes[0, column]
        _imshow(ax, image)
        ax.set_title(name if name not in captions else f"{name}\n{captions[name]}", fontsize=10)
        if box:
            top, left, size = box
            ax.add_patch(Rectangle((left - 0.5, top - 0.5), size, size, fill=False, edgecolor="red", lw=1.5))
            patch = image[top : top + size, left : left + size]
            _imshow(axes[1, column], patch.repeat(zoom, axis=0).repeat(zoom, axis=1))
            axes[1, column].set_title(f"crop x{zoom}", fontsize=8)
    fig.tight_layout()
    return fig


# --------------------------------------------------------------------------------------------- losses
def _is_number(value) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)


def _history_series(history) -> tuple[str, dict[str, tuple[np.ndarray, np.ndarray]]]:
    """Normalise a history to (x label, {name: (x, y)})."""
    if isinstance(history, Mapping):
        series = {}
        for name, values in history.items():
            values = list(values) if isinstance(values, (Sequence, np.ndarray)) else values
            if not isinstance(values, list) or not all(_is_number(v) for v in values):
                raise TypeError(f"history[{name!r}]: expected a list of numbers, got {describe(values)}")
            series[str(name)] = (np.arange(len(values)), np.asarray(values, dtype=np.float64))
        return "step", series
    if isinstance(history, Sequence) and not isinstance(history, str) and history:
        if not all(isinstance(record, Mapping) for record in history):
            raise TypeError("history: expected a list of dicts (one record per step), got other items in it")
        step_key = next((k for k in STEP_KEYS if all(_is_number(r.get(k)) for r in history)), None)
        names = dict.fromkeys(k for r in history for k, v in r.items() if k != step_key and _is_number(v))
        series = {}
        for name in names:
            records = [(i, r) for i, r in enumerate(history) if _is_number(r.get(name))]
            xs = [r[step_key] if step_key else i for i, r in records]
            series[str(name)] = (
                np.asarray(xs, dtype=np.float64),
                np.asarray([r[name] for _, r in records], float),
            )
        return step_key or "record", series
    empty_list = isinstance(history, Sequence) and not isinstance(history, str)
    raise (ValueError if empty_list else TypeError)(
        f"history: expected a dict {{name: [values]}} or a non-empty list of dicts, got {describe(history)}"
    )


def moving_average(values: np.ndarray, window: int) -> np.ndarray:
    """Mean of each ``window`` consecutive values (len(values) - window + 1 of them)."""
    kernel = np.ones(window) / window
    return np.convolve(values, kernel, mode="valid")


def plot_losses(
    history,
    ax=None,
    smooth: int | None = None,
    log: bool = False,
    title: str | None = None,
    figsize: tuple[float, float] = (6.0, 3.5),
):
    """Loss curves from ``{name: [values]}`` or from a list of per-step dicts; return the Figure.

    In a list of dicts, the x-axis is the first of 'step', 'iteration', 'iter', 'epoch' that every record
    has (else the record index); every other numeric field is one curve and other fields are ignored.
    ``smooth=W`` draws the raw curve faintly and its W-step moving average on top (the average of steps
    t-W+1..t is drawn at t). ``log=True`` uses a log y-axis (all values must be positive).
    """
    x_label, series = _history_series(history)
    if not series or not any(len(y) for _, y in series.values()):
        raise ValueError("history: expected at least one numeric value to plot, got none")
    if smooth is not None:
        expect_positive_int("smooth", smooth)
    if log:
        for name, (_, y) in series.items():
            if len(y) and np.nanmin(y) <= 0:
                raise ValueError(
                    f"history[{name!r}]: expected positive values for log=True, got {np.nanmin(y):.4g}"
                )
    own_figure = ax is None
    if own_figure:
        _, ax = _new_figure(figsize)
    for name, (x, y) in series.items():
        if smooth and smooth > 1 and len(y) >= smooth:
            (line,) = ax.plot(x, y, alpha=0.3, lw=1)
            ax.plot(
                x[smooth - 1 :],
                moving_average(y, smooth),
                color=line.get_color(),
                lw=1.8,
                label=f"{name} (mean of {smooth})",
            )
        else:
            ax.plot(x, y, lw=1.5, label=name)
    if log:
        ax.set_yscale("log")
    ax.set_xlabel(x_label)
    ax.set_ylabel("loss")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    if title is not None:
        ax.set_title(title)
    if own_figure:
        ax.figure.tight_layout()
    return ax.figure


# --------------------------------------------------------------------------------------------- voxels
def downsample_occupancy(occupied: np.ndarray, max_size: int = 32) -> np.ndarray:
    """Max-pool a boolean (D, H, W) grid by the smallest integer factor that makes every side <= max_size.

    A cell is filled when any voxel in its block is, so thin parts (chair legs) survive.
    """
    factor = max(1, math.ceil(max(occupied.shape) / max_size))
    if factor == 1:
        return occupied
    padded_shape = [math.ceil(s / factor) * factor for s in occupied.shape]
    padded = np.zeros(padded_shape, dtype=bool)
    padded[tuple(slice(0, s) for s in occupied.shape)] = occupied
    d, h, w = (s // factor for s in padded_shape)
    return np.any(padded.reshape(d, factor, h, factor, w, factor), axis=(1, 3, 5))


def plot_voxels(
    volume,
    threshold: float = 0.5,
    ax=None,
    elev: float = 20.0,
    azim: float = -60.0,
    max_size: int = 32,
    color: str = "tab:blue",
    figsize: tuple[float, float] = (4.0, 4.0),
):
    """Draw the voxels of a (D, H, W) or (1, D, H, W) volume that exceed ``threshold``; return the Figure.

    The grid is read as ``[x, y, z]`` with z pointing up, the convention of ``coursekit.data.voxels`` and of
    ``ax.voxels``, so its objects stand upright. matplotlib's ``ax.voxels`` draws every face as a polygon
    and gets slow beyond about 32^3, so larger volumes are max-pooled to at most ``max_size`` per side
    (``downsample_occupancy``) and the title says so. ``ax`` must be a 3-D Axes
    (``fig.add_subplot(projection="3d")``).
    """
    v = _as_numpy("volume", volume)
    if v.ndim == 4 and v.shape[0] == 1:
        v = v[0]
    if v.ndim != 3 or 0 in v.shape:
        raise ValueError(f"volume: expected a (D, H, W) or (1, D, H, W) voxel grid, got shape {v.shape}")
    if not np.isfinite(v).all():
        raise ValueError("volume: expected finite values, got NaN or inf")
    if isinstance(threshold, bool) or not _is_number(threshold):
        raise TypeError(f"threshold: expected a number, got {threshold!r}")
    expect_positive_int("max_size", max_size)
    occupied = downsample_occupancy(v > threshold, max_size)
    if ax is None:
        _, ax = _new_figure(figsize, projection="3d")
    elif getattr(ax, "name", None) != "3d":
        raise ValueError(
            f"ax: expected a 3-D Axes (projection='3d'), got a {getattr(ax, 'name', type(ax))!r} Axes"
        )
    filled = occupied
    if filled.any():
        ax.voxels(filled, facecolors=color, edgecolor="k", linewidth=0.2)
    ax.set_box_aspect(filled.shape)
    ax.set_xlim(0, filled.shape[0])
    ax.set_ylim(0, filled.shape[1])
    ax.set_zlim(0, filled.shape[2])
    ax.view_init(elev=elev, azim=azim)
    ax.set_xlabel("x")
    ax.set_ylabel("y")
    ax.set_zlabel("z")
    note = "" if occupied.shape == v.shape else f", max-pooled {'x'.join(map(str, v.shape))} -> "
    note += "x".join(map(str, occupied.shape)) if note else ""
    ax.set_title(f"{int(occupied.sum())} voxels > {threshold:g}{note}", fontsize=9)
    return ax.figure


__all__ = [
    "compare",
    "downsample_occupancy",
    "grid_shape",
    "make_grid",
    "moving_average",
    "plot_losses",
    "plot_voxels",
    "show_grid",
]
