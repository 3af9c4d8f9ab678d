"""A voxel viewer for generative models of 3-D shapes: rotate, iso-threshold, new sample, interpolate two z.

    from coursekit.ui import voxel_viewer
    voxel_viewer(G, z_dim=200)                  # G maps z (B, z_dim) -> occupancy (B, 1, R, R, R)
    voxel_viewer(volumes)                       # or browse a fixed batch of volumes (B, 1, R, R, R)

Live (a notebook kernel with ipywidgets 7.7 or 8), sliders set the azimuth, the elevation, the iso-threshold
and the interpolation weight t between two latent codes z_a and z_b (the volume shown is decode((1 - t) z_a
+ t z_b)); a "new sample" button draws a new pair of codes. The decoded volume is cached, so rotating or
thresholding does not re-run the generator. Without a front end (CI, plain Python, ``static=True``) it shows
one static figure: z_a, the midpoint and z_b side by side. Drawing uses ``coursekit.viz.plot_voxels``, which
max-pools grids larger than 32^3 so matplotlib stays fast.
"""

from __future__ import annotations

import numpy as np

from ..errors import expect_positive_int
from ..viz import plot_voxels
from . import base


def _png(fig) -> bytes:
    import matplotlib.pyplot as plt

    png = base.figure_png(fig, dpi=80)
    plt.close(fig)
    return png


class VoxelViewer(base.StaticOrLive):
    """See :func:`voxel_viewer`. ``png`` holds the last rendered figure; ``volume(t)`` the decoded grid."""

    def __init__(
        self,
        source,
        z_dim: int | None = None,
        seed: int = 0,
        threshold: float = 0.5,
        static: bool | None = None,
        title: str | None = None,
        max_size: int = 32,
    ):
        import torch

        super().__init__(static)
        self._torch = torch
        self.title = title
        self.max_size = expect_positive_int("max_size", max_size)
        if isinstance(source, torch.Tensor):
            if source.ndim == 4:
                source = source.unsqueeze(1)
            if source.ndim != 5 or source.shape[1] != 1 or source.shape[0] < 1:
                raise ValueError(
                    "volumes: expected a (B, 1, R, R, R) or (B, R, R, R) batch,"
                    f" got shape {tuple(source.shape)}"
                )
            self.volumes, self.decode = source.detach().float().cpu(), None
        elif callable(source):
            if z_dim is None:
                z_dim = getattr(source, "z_dim", None)
            self.z_dim = expect_positive_int("z_dim", z_dim)
            self.decode, self.volumes = source, None
        else:
            raise TypeError(
                "source: expected a generator z -> volumes or a tensor of volumes,"
                f" got {type(source).__name__}"
            )
        self.seed = int(seed)
        self.values = {"azim": -60, "elev": 20, "threshold": float(threshold), "t": 0.0}
        self._cache: dict = {}
        self._draw_codes()
        self.png = self.render() if not self.static else self.render_static()
        widgets = self.ipywidgets_when_live()
        if widgets is not None:
            self._build(widgets)

    # ----------------------------------------------------------------------------------------- content
    def _draw_codes(self) -> None:
        torch = self._torch
        self._cache.clear()
        if self.decode is not None:
            gen = torch.Generator().manual_seed(self.seed)
            self.z_a, self.z_b = torch.randn(2, self.z_dim, generator=gen)
        else:
            n = len(self.volumes)
            self.index_a, self.index_b = self.seed % n, (self.seed + 1) % n

    def volume(self, t: float) -> np.ndarray:
        """The (R, R, R) grid at interpolation weight t in [0, 1] (cached)."""
        key = round(float(t), 4)
        if key not in self._cache:
            torch = self._torch
            with torch.no_grad():
                if self.decode is not None:
                    z = ((1 - t) * self.z_a + t * self.z_b).unsqueeze(0)
                    module = self.decode if isinstance(self.decode, torch.nn.Module) else None
                    if module is not None:
                        z = z.to(next(module.parameters()).device)
                    v = self.decode(z)
                else:  # a fixed batch: blend the two occupancy grids (no latent space to walk in)
                    v = (1 - t) * self.volumes[self.index_a] + t * self.volumes[self.index_b]
            self._cache[key] = v.reshape(v.shape[-3:]).float().cpu().numpy()
        return self._cache[key]

    def render(self) -> bytes:
        """PNG of the current view."""
        v = self.values
        fig = plot_voxels(
            self.volume(v["t"]),
            threshold=v["threshold"],
            elev=v["elev"],
            azim=v["azim"],
            max_size=self.max_size,
        )
        if self.title:
            fig.suptitle(self.title, fontsize=10)
        return _png(fig)

    def render_static(self) -> bytes:
        """PNG of z_a, the midpoint and z_b side by side (the static fallback)."""
        import matplotlib.pyplot as plt

        fig = plt.figure(figsize=(10.5, 3.6))
        for i, t in enumerate((0.0, 0.5, 1.0)):
            ax = fig.add_subplot(1, 3, i + 1, projection="3d")
            plot_voxels(
                self.volume(t),
                threshold=self.values["threshold"],
                ax=ax,
                max_size=self.max_size,
                elev=self.values["elev"],
                azim=self.values["azim"],
            )
            ax.set_title(f"t = {t:g}: " + ax.get_title(), fontsize=8)
        fig.suptitle(self.title or "voxel viewer (static): z_a, midpoint, z_b", fontsize=10)
        return _png(fig)

    # ----------------------------------------------------------------------------------------- widgets
    def _build(self, widgets) -> None:
        sliders = {
            "azim": widgets.IntSlider(value=-60, min=-180, max=180, step=15, description="azimuth"),
            "elev": widgets.IntSlider(value=20, min=-10, max=90, step=10, description="elevation"),
            "threshold": widgets.FloatSlider(
                value=self.values["threshold"], min=0.05, max=0.95, step=0.05, description="iso level"
            ),
            "t": widgets.FloatSlider(value=0.0, min=0.0, max=1.0, step=0.1, description="z_a -> z_b"),
        }
        for slider in sliders.values():
            slider.continuous_update = False
        self.sliders = sliders
        self.image = widgets.Image(value=self.png, format="png")
        button = widgets.Button(description="new sample", tooltip="draw a new pair of codes z_a, z_b")
        button.on_click(lambda _b: self.new_sample())
        for name, slider in sliders.items():
            slider.observe(lambda change, name=name: self.set(**{name: change["new"]}), names="value")
        self.widget = widgets.VBox(
            [
                widgets.HBox([sliders["azim"], sliders["elev"]]),
                widgets.HBox([sliders["threshold"], sliders["t"]]),
                button,
                self.image,
            ]
        )

    def set(self, **values) -> bytes:
        """Change view values (azim, elev, threshold, t) and re-render; returns the PNG."""
        unknown = set(values) - set(self.values)
        if unknown:
            raise ValueError(f"voxel viewer: expected some of {sorted(self.values)}, got {sorted(unknown)}")
        self.values.update(values)
        self.png = self.render()
        if self.widget is not None:
            self.image.value = self.png
        return self.png

    def new_sample(self) -> bytes:
        """Draw a new pair of codes (or the next pair of volumes) and re-render."""
        self.seed += 2
        self._draw_codes()
        return self.set()


def voxel_viewer(
    source,
    z_dim: int | None = None,
    *,
    seed: int = 0,
    threshold: float = 0.5,
    static: bool | None = None,
    title: str | None = None,
    max_size: int = 32,
) -> VoxelViewer:
    """An interactive view of a voxel generator or a batch of volumes; put it last in a cell.

    ``source``: a function/module mapping z (1, z_dim) to occupancy (1, 1, R, R, R) in [0, 1] (``z_dim``
    defaults to ``source.z_dim``), or a tensor of volumes (B, 1, R, R, R). ``seed`` fixes the first pair of
    codes. Static mode (no front end) shows z_a, the midpoint and z_b.
    """
    return VoxelViewer(
        source, z_dim, seed=seed, threshold=threshold, static=static, title=title, max_size=max_size
    )


__all__ = ["VoxelViewer", "voxel_viewer"]
