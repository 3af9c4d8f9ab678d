"""Every notebook widget of the course, each live (ipywidgets 7 on Colab, or 8) or static (one PNG).

- :mod:`coursekit.ui.base`: the one static-or-live display (:class:`StaticOrLive`, :func:`use_static`,
  ``COURSEKIT_WIDGETS``) and PNG rendering shared by every widget.
- :mod:`coursekit.ui.dashboard`: :class:`TrainingDashboard`, a live loss plot with samples and a Stop button.
- :mod:`coursekit.ui.sliders`: :func:`image_slider` and :func:`before_after_slider`.
- :mod:`coursekit.ui.voxels`: :func:`voxel_viewer` for 3-D generators (lecture 07).
- :mod:`coursekit.ui.faces`: :func:`attribute_editor`, the IcGAN face editor (lecture 04).
- :mod:`coursekit.ui.style`: the style transfer widget (lecture 11). It needs TensorFlow, so it is imported
  only on request (``from coursekit.ui.style import style_transfer_widget``), never by
  ``import coursekit.ui``.
"""

from __future__ import annotations

from .base import (
    WIDGETS_ENV_VAR,
    StaticOrLive,
    display,
    image_to_png,
    in_notebook,
    ipywidgets_or_none,
    show_png,
    use_static,
)
from .dashboard import TrainingDashboard, process_ui_events, ui_events_supported
from .faces import AttributeEditor, attribute_editor
from .sliders import ImageSlider, before_after_slider, image_slider, slider_style
from .voxels import VoxelViewer, voxel_viewer

__all__ = [
    "AttributeEditor",
    "ImageSlider",
    "StaticOrLive",
    "TrainingDashboard",
    "VoxelViewer",
    "WIDGETS_ENV_VAR",
    "attribute_editor",
    "before_after_slider",
    "display",
    "image_slider",
    "image_to_png",
    "in_notebook",
    "ipywidgets_or_none",
    "process_ui_events",
    "show_png",
    "slider_style",
    "ui_events_supported",
    "use_static",
    "voxel_viewer",
]
