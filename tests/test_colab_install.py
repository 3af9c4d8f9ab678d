"""Colab's install, ``pip install "coursekit[colab] @ git+..."``, adds only what Colab lacks and changes
nothing Colab ships.

The test asks pip what the setup cell's install would do on Colab's GPU runtime, without Colab:

- Colab's packages (``tests/fixtures/colab/pip-freeze.gpu.txt``, Google's published ``pip freeze``) become
  installed distributions: one ``NAME-VERSION.dist-info/METADATA`` stub each, in a folder that, with pip
  itself, is all a ``python -S`` (no site-packages) sees. pip then treats them as it does on Colab: a
  requirement that Colab's version meets keeps it; one it does not meet makes pip replace it.
- coursekit is built into a wheel from a copy of this checkout (on Colab pip builds it from the git URL).
- ``pip install --dry-run --report`` resolves ``coursekit[colab] @ <wheel>`` for Colab's Python (3.13, read
  from os-info-gpu.txt) and platform (x86_64, glibc 2.35: manylinux tags up to 2_35), wheels only.

Any package of the freeze in the report's install list would be changed on Colab: the test fails and names
it with both versions. Packages not in the freeze are what the install adds; their number and download size
are printed (``pytest -s``) and recorded as junit properties.

Why installed stubs and not ``--target`` with the freeze as ``--constraint``: ``--target`` makes pip ignore
installed packages, and constraints turn Colab's versions into hard pins, so pip backtracks to an old
release of a new package until it fits (``otter-grader>=5`` resolves to otter 5.7 beside ipywidgets 7.7.1),
while pip on Colab takes the newest release and replaces Colab's ipywidgets 7 by 8. The stubs reproduce what
pip does on Colab; the tests of the test below check both cases.

What the emulation leaves out: freeze entries installed from a URL (``name @ https://...``, ``@ file://``,
``@ git+...``: google-colab, cucim-cu12, cuvs-cu12, nx-cugraph-cu12, en_core_web_sm, jupyter_kernel_gateway)
get no stub, since their version is not an index version; should the install ever need one of them, pip
lists it and the test fails, naming it. Local version labels (``torch==2.11.0+cu128``) stay: ``torch>=2.2``
is met by 2.11.0+cu128 as on Colab. The stubs carry no dependencies (the freeze has none), so pip does not
re-check the requirements of Colab's own packages, and environment markers are evaluated for the Python
that runs pip (``--python-version`` covers Requires-Python and wheel tags only). The download size is the
sum of the wheels' Content-Length (one HEAD request per added wheel; pip's report has no sizes); coursekit
itself comes from a git clone on Colab and is counted apart.

Skipped, never failed, only when the package index is out of reach.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures" / "colab"
FREEZE = FIXTURES / "pip-freeze.gpu.txt"
OS_INFO = FIXTURES / "os-info-gpu.txt"
# Colab's GPU runtime is Ubuntu 22.04 (glibc 2.35) on x86_64: manylinux wheels up to glibc 2.35 run there.
PLATFORMS = [f"manylinux_2_{minor}_x86_64" for minor in range(35, 4, -1)] + [
    "manylinux2014_x86_64", "manylinux2010_x86_64", "manylinux1_x86_64"]
NETWORK_ERRORS = (
    "NewConnectionError", "Temporary failure in name resolution", "Name or service not known",
    "Network is unreachable", "ConnectTimeoutError", "ReadTimeoutError", "ProxyError", "Max retries exceeded",
    "Could not fetch URL", "Connection refused", "SSLError",
)
PINNED = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)$")
FROM_URL = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)\s*@\s*(\S+)$")


def canonical(name: str) -> str:
    """The normalised project name (PEP 503): ``PyYAML`` is ``pyyaml``, ``tf_keras`` is ``tf-keras``."""
    return re.sub(r"[-_.]+", "-", name).lower()


@dataclass(frozen=True)
class Freeze:
    """Colab's packages: ``versions`` (canonical name -> version) and ``from_url`` (name -> freeze line)."""

    versions: dict[str, str]
    from_url: dict[str, str]

    def shipped(self, name: str) -> str | None:
        """Colab's version of a package ("a direct URL" if installed from one), None if Colab lacks it."""
        name = canonical(name)
        return self.versions.get(name) or ("a direct URL" if name in self.from_url else None)


def read_freeze(path: Path = FREEZE) -> Freeze:
    """Parse a ``pip freeze`` listing; a line other than ``name==version`` or ``name @ url`` is an error."""
    versions, from_url = {}, {}
    for number, raw in enumerate(path.read_text().splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if match := PINNED.match(line):
            versions[canonical(match[1])] = match[2]
        elif match := FROM_URL.match(line):
            from_url[canonical(match[1])] = line
        else:
            raise ValueError(f"{path}:{number}: expected 'name==version' or 'name @ url', got {line!r}")
    return Freeze(versions, from_url)


def colab_python(path: Path = OS_INFO) -> str:
    """Colab's Python as MAJOR.MINOR, from the ``Python 3.13.15`` line of os-info-gpu.txt."""
    match = re.search(r"^Python (\d+)\.(\d+)", path.read_text(), re.M)
    if not match:
        raise ValueError(f"{path}: expected a line 'Python X.Y.Z'")
    return f"{match[1]}.{match[2]}"


def write_stubs(freeze: Freeze, site: Path) -> None:
    """One ``.dist-info`` with a minimal METADATA per pinned package: pip sees it as installed."""
    site.mkdir(parents=True, exist_ok=True)
    for name, version in freeze.versions.items():
        info = site / f"{name.replace('-', '_')}-{version}.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
        (info / "INSTALLER").write_text("colab-freeze-stub\n")


def setuptools_major() -> int:
    """The installed setuptools' major version, 0 when it is missing."""
    try:
        return int(importlib.metadata.version("setuptools").split(".")[0])
    except (importlib.metadata.PackageNotFoundError, ValueError):
        return 0


def build_wheel(dest: Path) -> Path:
    """coursekit's wheel, built from a copy of the checkout (the build writes nothing into the repository)."""
    source = dest / "source"
    source.mkdir(parents=True)
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, source / name)
    shutil.copytree(ROOT / "coursekit", source / "coursekit", ignore=shutil.ignore_patterns("__pycache__"))
    # pyproject's build backend, setuptools>=77, is in the course's environment: no isolated build needed
    isolation = ["--no-build-isolation"] if setuptools_major() >= 77 else []
    command = [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", *isolation,
               "--wheel-dir", str(dest), str(source)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300)
    output = result.stdout + result.stderr
    if result.returncode != 0:
        skip_if_offline(output)
        pytest.fail(f"could not build coursekit's wheel:\n{output[-3000:]}")
    return next(dest.glob("coursekit-*.whl"))


def skip_if_offline(output: str) -> None:
    """Skip the test when pip's output says the index could not be reached (any other failure fails)."""
    lines = [line for line in output.splitlines() if any(error in line for error in NETWORK_ERRORS)]
    if lines:
        pytest.skip(f"the package index is out of reach: {lines[0].strip()[:300]}")


@dataclass(frozen=True)
class Colab:
    """An emulated Colab runtime: the freeze, its stub site directory, pip beside it, Colab's Python."""

    freeze: Freeze
    path: str
    python: str

    def resolve(self, requirement: str, report: Path) -> dict:
        """pip's installation report for ``pip install requirement`` on Colab; fails when pip fails."""
        platforms = [option for platform in PLATFORMS for option in ("--platform", platform)]
        command = [sys.executable, "-S", "-m", "pip", "install", "--dry-run", "--report", str(report),
                   "--python-version", self.python, "--only-binary=:all:", *platforms,
                   "--timeout", "30", "--retries", "1", requirement]
        env = {**os.environ, "PYTHONPATH": self.path, "PYTHONNOUSERSITE": "1"}
        env.pop("PIP_REQUIRE_VIRTUALENV", None)  # python -S does not see that it runs in a venv
        result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=600)
        output = result.stdout + result.stderr
        if result.returncode != 0:
            skip_if_offline(output)
            pytest.fail(f"pip cannot resolve {requirement} on Colab:\n{output[-4000:]}")
        return json.loads(report.read_text())


def changes(report: dict, freeze: Freeze) -> list[str]:
    """Every package Colab ships that the install would replace, as 'name: Colab's version -> new version'."""
    found = []
    for item in report["install"]:
        name, version = item["metadata"]["name"], item["metadata"]["version"]
        shipped = freeze.shipped(name)
        if shipped is not None:
            found.append(f"{canonical(name)}: Colab's {shipped} -> {version}")
    return sorted(found)


def added(report: dict, freeze: Freeze) -> list[dict]:
    """The report's items for packages Colab lacks (what the install adds)."""
    return [item for item in report["install"] if freeze.shipped(item["metadata"]["name"]) is None]


def download_size(url: str, timeout: float = 15.0) -> int | None:
    """Bytes of a wheel: a local file's size, else the index's Content-Length (HEAD); None if unknown."""
    parsed = urlparse(url)
    if parsed.scheme == "file":
        path = Path(unquote(parsed.path))
        return path.stat().st_size if path.exists() else None
    try:
        with urllib.request.urlopen(urllib.request.Request(url, method="HEAD"), timeout=timeout) as response:
            length = response.headers.get("Content-Length")
    except OSError:
        return None
    return int(length) if length and length.isdigit() else None


@pytest.fixture(scope="module")
def colab(tmp_path_factory) -> Colab:
    pip_spec = importlib.util.find_spec("pip")
    if pip_spec is None or not pip_spec.submodule_search_locations:
        pytest.skip("pip is not installed in this environment")
    root = tmp_path_factory.mktemp("colab")
    freeze = read_freeze()
    write_stubs(freeze, root / "site")
    (root / "pip").mkdir()
    (root / "pip" / "pip").symlink_to(Path(next(iter(pip_spec.submodule_search_locations))))
    return Colab(freeze, os.pathsep.join([str(root / "site"), str(root / "pip")]), colab_python())


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    return build_wheel(tmp_path_factory.mktemp("wheel"))


def test_freeze_is_parsed_as_colab_ships_it():
    freeze = read_freeze()
    assert colab_python() == "3.13"
    assert freeze.versions["torch"] == "2.11.0+cu128"
    assert freeze.versions["ipywidgets"] == "7.7.1"
    assert freeze.shipped("PyYAML") == "6.0.3" and freeze.shipped("tf_keras") == freeze.versions["tf-keras"]
    assert freeze.shipped("google-colab") == "a direct URL"
    assert freeze.shipped("jupyter-ui-poll") is None and freeze.shipped("jupyterlab") is None
    assert len(freeze.versions) > 600 and len(freeze.from_url) == 6


def test_changes_names_every_replaced_colab_package():
    freeze = Freeze({"ipywidgets": "7.7.1", "numpy": "2.1.3"}, {"google-colab": "google-colab @ file:///x"})
    report = {"install": [{"metadata": {"name": n, "version": v}} for n, v in
                          [("ipywidgets", "8.1.9"), ("jupyter_ui_poll", "1.1.0"), ("google_colab", "1.0.0")]]}
    assert changes(report, freeze) == ["google-colab: Colab's a direct URL -> 1.0.0",
                                       "ipywidgets: Colab's 7.7.1 -> 8.1.9"]
    assert [i["metadata"]["name"] for i in added(report, freeze)] == ["jupyter_ui_poll"]


@pytest.mark.slow
def test_colab_install_adds_only_what_colab_lacks(colab, wheel, tmp_path, record_property):
    start = time.monotonic()
    report = colab.resolve(f"coursekit[colab] @ {wheel.as_uri()}", tmp_path / "report.json")
    changed = changes(report, colab.freeze)
    assert not changed, f"coursekit[colab] would change packages Colab ships: {changed}"
    new = added(report, colab.freeze)
    names = sorted(canonical(item["metadata"]["name"]) for item in new)
    assert "coursekit" in names and "jupyter-ui-poll" in names, names
    assert not {"otter-grader", "jupyterlab"} & set(names), f"coursekit[colab] installs {names}"
    sizes = {canonical(i["metadata"]["name"]): download_size(i["download_info"]["url"]) for i in new
             if canonical(i["metadata"]["name"]) != "coursekit"}
    known = sum(size for size in sizes.values() if size is not None)
    unknown = sorted(name for name, size in sizes.items() if size is None)
    listing = ", ".join(f"{canonical(i['metadata']['name'])} {i['metadata']['version']}" for i in new)
    seconds = time.monotonic() - start
    print(f"\ncoursekit[colab] on Colab adds {len(new)} packages ({listing}); downloads from the index "
          f"{known / 1e3:.1f} kB{f' + unknown sizes of {unknown}' if unknown else ''}; coursekit's own wheel "
          f"{wheel.stat().st_size / 1e3:.0f} kB; changes nothing Colab ships; resolved in {seconds:.1f} s")
    record_property("colab_added_packages", listing)
    record_property("colab_download_bytes", known)
    record_property("colab_resolution_seconds", round(seconds, 1))


@pytest.mark.slow
@pytest.mark.parametrize(
    ("requirement", "replaced"),
    [
        ("coursekit[course] @ WHEEL", "ipywidgets"),  # otter-grader 7 needs ipywidgets>=8.1.5
        ("otter-grader>=5", "ipywidgets"),  # constraints would pass this with otter 5.7; pip on Colab takes 7
    ],
)
def test_the_check_catches_an_install_that_changes_colab(colab, wheel, tmp_path, requirement, replaced):
    report = colab.resolve(requirement.replace("WHEEL", wheel.as_uri()), tmp_path / "report.json")
    changed = changes(report, colab.freeze)
    assert any(c.startswith(f"{replaced}: Colab's ") for c in changed), (
        f"{requirement} replaces Colab's {replaced} on Colab, yet the check found only {changed}")
    installed = {canonical(item["metadata"]["name"]) for item in report["install"]}
    assert "numpy" not in installed and "ipython" not in installed, (
        f"pip did not see the stubbed Colab packages as installed: it would install {sorted(installed)}")
    print(f"\n{requirement.split(' @ ')[0]} would change on Colab: {changed}")
