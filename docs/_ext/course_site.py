"""Sphinx extension of the course website: every notebook page links to Colab and to its notebook file.

A page's name is its notebook's path in the repository (docs/conf.py), so the Colab address comes from the
course manifest (coursekit.course) and the download is the notebook Sphinx copies to ``_sources/``
(the stored notebook, without outputs, as a student opens it). The Colab badges the notebooks and the
README carry point at an image on colab.research.google.com; the site serves its own copy instead, so no
page loads anything from the internet.

Lectures execute with static widgets (COURSEKIT_WIDGETS=static: each widget leaves its PNG, progress bars are
text), so no page holds a widget view and the site loads no widget manager (tests/test_site.py checks).
"""

from __future__ import annotations

from html import escape

from coursekit import course

LOCAL_BADGE = "_static/colab-badge.svg"
MANIFEST = course.load()


def notebook_links_html(colab_url: str, download_href: str, filename: str) -> str:
    """The line under a notebook page's title: Open in Colab and Download the notebook."""
    return (
        '<p class="course-notebook-links">'
        f'<a class="course-colab-link" href="{escape(colab_url)}">Open in Colab</a> · '
        f'<a class="course-download-link" href="{escape(download_href)}" download="{escape(filename)}">'
        f"Download the notebook ({escape(filename)})</a></p>"
    )


def after_first_title(body: str, html: str) -> str:
    """``html`` inserted after the page's first ``</h1>``, or at the top when the page has none."""
    head, sep, tail = body.partition("</h1>")
    return head + sep + html + tail if sep else html + body


def add_notebook_links(app, pagename, templatename, context, doctree):
    """html-page-context: the links line on notebook pages and the local badge image."""
    if "body" not in context:
        return
    body = context["body"].replace(course.BADGE_IMAGE, context["pathto"](LOCAL_BADGE, 1))
    if app.env.doc2path(pagename).suffix == ".ipynb":
        notebook = f"{pagename}.ipynb"
        download = context["pathto"](f"_sources/{notebook}", 1)
        links = notebook_links_html(MANIFEST.colab_url(notebook), download, notebook.rsplit("/", 1)[-1])
        body = after_first_title(body, links)
    context["body"] = body


def setup(app):
    app.connect("html-page-context", add_notebook_links)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
