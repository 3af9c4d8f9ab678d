"""The course website (`make site`): one page per lecture, lab and course document, no broken internal
link, nothing loaded from the internet, and in Debian's Chromium the home page and three lectures show their
figures, the Colab link and no dead widget (screenshots in build/screenshots/).

Reads a built site and builds nothing: `make test` builds the smoke site first (`make site PROFILE=smoke`,
into build/site-smoke/; `make site-test`). ``COURSEKIT_SITE`` names another build, e.g. build/site. Without a
built site the tests are skipped locally and fail under CI.
"""

from __future__ import annotations

import os
import re
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
from test_browser import CHROMIUM, CHROMIUM_FLAGS, SCREENSHOTS, require_browser_tools

from coursekit import course

ROOT = Path(__file__).resolve().parent.parent
SITE = Path(os.environ.get("COURSEKIT_SITE", ROOT / "build" / "site-smoke")).resolve()
MANIFEST = course.load()
COURSE_DOCS = sorted(p.relative_to(ROOT).with_suffix("").as_posix() for p in (ROOT / "course").glob("*.md"))
BROWSER_LECTURES = ["lectures/00_tour", "lectures/01_vae", "lectures/05_super_resolution"]
DEAD_WIDGET = "Error displaying widget"
MATHJAX_TIMEOUT_MS = 20_000
WIDGET_MIME_TYPES = ("application/vnd.jupyter.widget-view+json", "application/vnd.jupyter.widget-state+json")
COLAB_PREFIX = "https://colab.research.google.com/github/"
RENDERED_COUNT_JS = "imgs => imgs.filter(i => i.naturalWidth > 0).length"
# What a page loads (as opposed to what it links to): these attributes of these tags.
LOADED = {"img": "src", "script": "src", "link": "href", "source": "src", "iframe": "src"}
NAVIGATION_RELS = ("canonical", "index", "search", "next", "prev")


@pytest.fixture(scope="module")
def site() -> Path:
    if not (SITE / "index.html").exists():
        message = f"no built site at {SITE} (run `make site PROFILE=smoke`)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return SITE


class PageLinks(HTMLParser):
    """Every element id of a page, the addresses it links to and the addresses it loads."""

    def __init__(self):
        super().__init__()
        self.ids: set[str] = set()
        self.links: list[str] = []
        self.loads: list[str] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if attrs.get("id"):
            self.ids.add(attrs["id"])
        if tag == "a" and attrs.get("href"):
            self.links.append(attrs["href"])
        if tag in LOADED and attrs.get(LOADED[tag]):
            is_link_only = tag == "link" and attrs.get("rel") in NAVIGATION_RELS
            (self.links if is_link_only else self.loads).append(attrs[LOADED[tag]])


def parse(page: Path) -> PageLinks:
    parser = PageLinks()
    parser.feed(page.read_text(encoding="utf-8"))
    return parser


def site_pages(site: Path) -> list[Path]:
    """The site's HTML pages (not the theme's template fragments it copies into _static/)."""
    return [p for p in site.rglob("*.html") if "_static" not in p.relative_to(site).parts]


def is_external(address: str) -> bool:
    return bool(urlsplit(address).scheme) or address.startswith("//")


def notebook_pages() -> list[str]:
    """The site page of every lecture and lab of a ready module, named like its notebook without .ipynb."""
    notebooks = [p for m in MANIFEST.modules if m.status == "ready" for p in (m.lecture, m.lab) if p]
    return [n.removesuffix(".ipynb") for n in notebooks]


def test_every_lecture_lab_and_course_document_has_a_page(site):
    expected = ["index", *COURSE_DOCS, *notebook_pages()]
    missing = [name for name in expected if not (site / f"{name}.html").exists()]
    assert not missing, f"pages missing from {site}: {missing}"
    assert "course/syllabus" in COURSE_DOCS and "course/references" in COURSE_DOCS


def test_no_internal_link_is_broken(site):
    pages = {page: parse(page) for page in site_pages(site)}
    broken = []
    for page, parsed in pages.items():
        for address in parsed.links + parsed.loads:
            if is_external(address) or address.startswith(("mailto:", "javascript:", "data:")):
                continue
            parts = urlsplit(address)
            target = (page.parent / unquote(parts.path)).resolve() if parts.path else page
            if not target.exists():
                broken.append(f"{page.relative_to(site)}: {address}")
            elif parts.fragment and target.suffix == ".html":
                ids = pages[target].ids if target in pages else parse(target).ids
                if unquote(parts.fragment) not in ids:
                    broken.append(f"{page.relative_to(site)}: {address} (no such anchor)")
    assert not broken, f"{len(broken)} broken internal links, e.g. {broken[:10]}"


def test_no_page_loads_anything_from_the_internet(site):
    loaded = {f"{page.relative_to(site)}: {a}" for page in site_pages(site) for a in parse(page).loads
              if is_external(a) and not a.startswith("data:")}
    assert not loaded, f"pages load from the internet (the site must work offline): {sorted(loaded)[:10]}"


@pytest.mark.parametrize("name", notebook_pages())
def test_notebook_page_links_to_colab_and_to_its_notebook(site, name):
    page = site / f"{name}.html"
    html = page.read_text(encoding="utf-8")
    colab = re.search(r'class="course-colab-link" href="([^"]+)"', html)
    assert colab and colab.group(1) == MANIFEST.colab_url(f"{name}.ipynb"), f"{page}: Colab link {colab}"
    download = re.search(r'class="course-download-link" href="([^"]+)"', html)
    assert download, f"{page}: no download link"
    notebook = (page.parent / download.group(1)).resolve()
    assert notebook.read_bytes() == (ROOT / f"{name}.ipynb").read_bytes(), (
        f"{page}: the download {notebook} differs from {name}.ipynb in the repository")


@pytest.mark.parametrize("name", [n for n in notebook_pages() if n.startswith("lectures/")])
def test_lecture_page_shows_its_outputs_and_no_dead_widget(site, name):
    html = (site / f"{name}.html").read_text(encoding="utf-8")
    assert 'class="cell_output' in html, f"{name}: the page shows no cell output (not executed?)"
    assert "data:image/png" in html or re.search(r'<img[^>]+src="[^"]*_images/', html), f"{name}: no figure"
    for dead in (DEAD_WIDGET, *WIDGET_MIME_TYPES, "Traceback (most recent call"):
        assert dead not in html, f"{name}: the page shows {dead!r}"


@pytest.mark.parametrize("name", [n for n in notebook_pages() if n.startswith("labs/")])
def test_lab_page_is_the_lab_students_get(site, name):
    html = (site / f"{name}.html").read_text(encoding="utf-8")
    assert 'class="cell_output' not in html, f"{name}: a lab page shows outputs (labs are not executed)"
    for marker in ("BEGIN SOLUTION", "END SOLUTION", "BEGIN TESTS", "BEGIN HIDDEN"):
        assert marker not in html, f"{name}: the page shows {marker!r} (solutions or tests leaked)"


@pytest.mark.browser
@pytest.mark.slow
def test_pages_render_in_chromium_with_figures_and_colab_link(site):
    require_browser_tools()
    from playwright.sync_api import sync_playwright

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    internet = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                             args=CHROMIUM_FLAGS)
        try:
            context = browser.new_context(viewport={"width": 1400, "height": 1000})
            context.route(re.compile(r"^(https?|wss?)://"), lambda route: (internet.append(route.request.url),
                                                                           route.abort()))
            page = context.new_page()
            for name in ["index", *BROWSER_LECTURES]:
                check_page_in_browser(page, site / f"{name}.html", name)
        finally:
            browser.close()
    assert not internet, f"the pages asked the internet for {internet[:10]}"


def check_page_in_browser(page, path: Path, name: str) -> None:
    """Open ``path``; every image rendered, a Colab link, no dead widget; a full-page screenshot."""
    page.goto(path.as_uri(), wait_until="load")
    page.wait_for_load_state("networkidle")
    page.screenshot(path=str(SCREENSHOTS / f"site_{name.replace('/', '_')}.png"), full_page=True)
    images = page.eval_on_selector_all(
        "article img", "imgs => imgs.map(i => ({src: i.currentSrc.slice(0, 80), width: i.naturalWidth}))")
    broken = [i["src"] for i in images if i["width"] == 0]
    assert images and not broken, f"{name}: {len(images)} images, not rendered: {broken}"
    if name.startswith("lectures/"):
        figures = page.eval_on_selector_all(".cell_output img", RENDERED_COUNT_JS)
        assert figures > 0, f"{name}: no rendered figure in the cell outputs"
        assert page.locator("a.course-colab-link").first.is_visible(), f"{name}: Colab link not visible"
    assert page.locator(f'a[href^="{COLAB_PREFIX}"]').count() > 0, f"{name}: no Colab link"
    assert DEAD_WIDGET not in page.inner_text("body"), f"{name}: {DEAD_WIDGET!r} on the page"
    if page.locator(".math").count():
        page.wait_for_selector("mjx-container", timeout=MATHJAX_TIMEOUT_MS)
