"""Sphinx configuration of the course website (`make site`; course/instructor.md, "The course website").

The Makefile builds from build/site-src/, a tree of links that mirrors the repository (lectures/, labs/,
course/, README.md) plus this directory's index.md, so every page's name is its notebook's path in the
repository and its Open-in-Colab address follows from it. Lectures are executed by myst-nb through
jupyter-cache in the profile ``COURSEKIT_PROFILE`` (one cache per profile, keyed by each notebook's code);
labs are shown as students get them, not executed.
"""

import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE / "_ext"))

from coursekit import course  # noqa: E402

MANIFEST = course.load()
PROFILE = os.environ.get("COURSEKIT_PROFILE", "fast")

project = MANIFEST.title
author = "the course authors"
root_doc = "index"
extensions = ["myst_nb", "sphinx-mathjax-offline", "course_site"]
exclude_patterns = ["README.md", "lectures/checkpoints", "**/.ipynb_checkpoints"]
# The notebooks' own headings start at a module title and use the levels a reader sees in Jupyter.
suppress_warnings = ["myst.header"]
nitpicky = True

myst_enable_extensions = ["dollarmath", "amsmath", "substitution"]
myst_heading_anchors = 3
myst_substitutions = {"profile": PROFILE}

nb_execution_mode = "cache"
nb_execution_cache_path = str(ROOT / "build" / "site-cache" / PROFILE)
nb_execution_excludepatterns = ["labs/*"]
nb_execution_timeout = int(os.environ.get("COURSEKIT_SITE_TIMEOUT", "1800"))
nb_execution_raise_on_error = True
nb_execution_show_tb = True
# Widgets render as their static PNGs (COURSEKIT_WIDGETS=static): no widget manager loaded from a CDN.
nb_ipywidgets_js = {}

html_theme = "sphinx_book_theme"
html_title = MANIFEST.title
html_static_path = ["_static"]
html_sourcelink_suffix = ""  # _sources/lectures/01_vae.ipynb is the notebook itself: the download link
html_theme_options = {
    "repository_url": MANIFEST.repository,
    "repository_branch": MANIFEST.branch,
    "path_to_docs": "",
    "use_download_button": True,
    "use_repository_button": True,
    "launch_buttons": {"colab_url": "https://colab.research.google.com"},
}
