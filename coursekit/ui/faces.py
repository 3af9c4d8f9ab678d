"""The IcGAN attribute editor (Perarnau et al. 2016): a face and one checkbox per attribute; each toggle
sets y' and shows G(z, y') for the (z, y) = E(x) of the face."""

from __future__ import annotations

from ..errors import expect_tensor
from . import base


class AttributeEditor(base.StaticOrLive):
    """A face and one checkbox per attribute; the edited face re-renders on every toggle.

    ``edit_fn(values)`` gets the list of 0/1 attribute values and returns the edited image (C, H, W) in
    [0, 1]; ``original`` is shown beside it. Live (ipywidgets 7 or 8 in a notebook): checkboxes above the
    two images. Static (no front end, nbval, CI): one PNG of the original, the reconstruction at the start
    values and, in a row, the edit with each attribute flipped on its own, labelled.
    """

    def __init__(
        self, edit_fn, original, names, values, title: str | None = None, static: bool | None = None
    ):
        super().__init__(static)
        names, values = list(names), [int(v) for v in values]
        if len(names) != len(values):
            raise ValueError(f"values: expected one per attribute ({len(names)}), got {len(values)}")
        expect_tensor("original", original, ndim=3)
        self.edit_fn, self.original, self.names, self.values = edit_fn, original, names, values
        self.title = title
        self.png = self.render()
        widgets = self.ipywidgets_when_live()
        if widgets is not None:
            self.image = widgets.Image(value=self.png, format="png")
            self.checkboxes = [
                widgets.Checkbox(value=bool(v), description=n, indent=False)
                for n, v in zip(names, values, strict=True)
            ]
            for i, box in enumerate(self.checkboxes):
                box.observe(lambda change, i=i: self._toggled(i, change["new"]), names="value")
            header = [widgets.HTML(value=f"<b>{title}</b>")] if title else []
            self.widget = widgets.VBox([*header, widgets.HBox(self.checkboxes), self.image])

    def pair(self, values):
        """(2, C, H, W): the original face and the face edited to ``values``."""
        import torch

        with torch.no_grad():
            edited = self.edit_fn(list(values)).detach().cpu().reshape(self.original.shape)
        return torch.stack([self.original.detach().cpu(), edited.clamp(0, 1)])

    def render(self) -> bytes:
        """PNG bytes of the original and the face edited to the current values."""
        return base.image_to_png(self.pair(self.values), min_size=256)

    def _toggled(self, index: int, value: bool) -> None:
        self.values[index] = int(value)
        self.png = self.render()
        self.image.value = self.png

    def static_figure(self):
        """A matplotlib figure: original, reconstruction, then each single-attribute flip (titled)."""
        import matplotlib.pyplot as plt

        columns = [("original", self.original.detach().cpu()), ("E then G", self.pair(self.values)[1])]
        for i, name in enumerate(self.names):
            flipped = list(self.values)
            flipped[i] = 1 - flipped[i]
            columns.append((("+ " if flipped[i] else "- ") + name, self.pair(flipped)[1]))
        fig, axes = plt.subplots(1, len(columns), figsize=(1.4 * len(columns), 1.9))
        for ax, (label, image) in zip(axes, columns, strict=True):
            ax.imshow(image.permute(1, 2, 0).clamp(0, 1).numpy())
            ax.set_title(label, fontsize=8)
            ax.set_axis_off()
        if self.title:
            fig.suptitle(self.title, fontsize=9)
        plt.close(fig)
        return fig

    def static_png(self) -> bytes:
        """The static form: :meth:`static_figure` as PNG."""
        return base.image_to_png(self.static_figure())


def attribute_editor(generator, encoder_z, encoder_y, image, names, title: str | None = None,
                     static: bool | None = None) -> AttributeEditor:
    """The IcGAN editing widget for one face ``image`` (C, H, W) in [0, 1]: (z, y) = E(x) once
    (:func:`coursekit.nn.icgan.encode`), then each checkbox toggle sets y' and shows G(z, y'). Put it last
    in a cell (or call ``.show()``)."""
    import torch

    from ..nn.icgan import encode

    expect_tensor("image", image, ndim=3)
    device = next(generator.parameters()).device
    z, y = encode(encoder_z, encoder_y, image[None].to(device))

    def edit_fn(values):
        generator.eval()
        return generator(z, torch.tensor([values], dtype=z.dtype, device=device))[0]

    return AttributeEditor(edit_fn, image, names, y[0].tolist(), title=title, static=static)
