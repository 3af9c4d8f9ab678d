"""The project's wiring: pyproject vs environment.yml, the manifest, the README table, CI and notebooks."""

import json
import re
from pathlib import Path

import pytest
import tomllib
import yaml

from coursekit import course

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
MANIFEST = course.load()


def test_environment_yml_installs_what_pyproject_declares():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    assert env["channels"] == ["conda-forge"]
    conda = [d for d in env["dependencies"] if isinstance(d, str)]
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    python = next(d for d in conda if d.startswith("python"))
    major_minor = tuple(int(p) for p in python.split("=")[1].split(".")[:2])
    minimum = tuple(int(p) for p in PYPROJECT["project"]["requires-python"].lstrip(">=").split(".")[:2])
    assert major_minor >= minimum, f"environment.yml python {major_minor} < requires-python {minimum}"
    assert set(conda) <= {python, "pip"}, f"conda must only provide python and pip, got {conda}"
    makefile = (ROOT / "Makefile").read_text()
    extras_in_make = re.search(r"pip install .*-e '\.\[([a-z,]+)\]'", makefile).group(1)
    assert pip == [f"-e .[{extras_in_make}]"], f"environment.yml pip section {pip} differs from the Makefile"


def test_extras_are_ranges_and_complete():
    extras = PYPROJECT["project"]["optional-dependencies"]
    assert set(extras) == {"torch", "tf", "course", "colab", "dev", "docs"}
    names = {e: {re.split(r"[<>=\[ ]", req)[0] for req in reqs} for e, reqs in extras.items()}
    assert names["torch"] == {"torch", "torchvision"}
    assert names["tf"] == {"tensorflow", "tensorflow-hub", "setuptools"}
    assert {"jupyterlab", "ipywidgets", "matplotlib", "tqdm", "scikit-image", "scikit-learn",
            "otter-grader"} <= names["course"]
    assert "coursekit[torch,tf]" in extras["course"]
    assert names["dev"] >= {"pytest", "pytest-xdist", "nbval", "ruff", "hypothesis", "mypy"}
    assert names["docs"] == {"sphinx", "myst-nb", "jupyter-cache", "sphinx-book-theme",
                             "sphinx-mathjax-offline"}
    # Colab's install adds what Colab lacks and nothing it ships (tests/test_colab_install.py resolves it)
    assert "jupyter-ui-poll" in names["colab"]
    assert not names["colab"] & {"otter-grader", "jupyterlab", "ipywidgets", "torch", "tensorflow",
                                 "tensorflow-hub", "setuptools", "coursekit"}, extras["colab"]
    pinned = [r for reqs in extras.values() for r in reqs if "==" in r]
    assert not pinned, f"exact pins would replace Colab's torch/TensorFlow: {pinned}"
    assert "setuptools<81" in extras["tf"], "tensorflow-hub imports pkg_resources, removed in setuptools 81"


def test_manifest_lists_all_twelve_modules_with_fixed_slugs():
    expected = ["tour", "vae", "gan", "disentanglement", "icgan", "super_resolution", "esrgan_degradation",
                "gan3d", "inpainting", "gan_prior_restoration", "old_photos", "style_transfer"]
    assert [m.slug for m in MANIFEST.modules] == expected
    assert [m.number for m in MANIFEST.modules] == [f"{i:02d}" for i in range(12)]
    for m in MANIFEST.modules:
        assert m.lecture == f"lectures/{m.number}_{m.slug}.ipynb"
        assert m.solution in (None, f"solutions/{m.number}_{m.slug}.ipynb")


def test_ready_modules_have_all_their_notebooks():
    for m in MANIFEST.modules:
        present = [p for p in m.notebooks() if (ROOT / p).exists()]
        if m.status == "ready":
            lacking = set(m.notebooks()) - set(present)
            assert not lacking, f"module {m.number} is ready but lacks {lacking}"


def test_manifest_rejects_unknown_status(tmp_path):
    raw = yaml.safe_load(course.MANIFEST.read_text())
    raw["modules"][0]["status"] = "done"
    bad = tmp_path / "course.yml"
    bad.write_text(yaml.safe_dump(raw))
    with pytest.raises(ValueError, match="unknown status of module 00 'done': expected one of"):
        course.load(bad)


def test_readme_table_is_generated_from_the_manifest():
    assert course.update_readme(check=True), "run `python -m coursekit readme`"
    table = course.readme_table()
    for m in MANIFEST.modules:
        assert f"| {m.number} | {m.title} |" in table
    assert MANIFEST.colab_url("lectures/00_tour.ipynb").startswith("https://colab.research.google.com/github/")


def test_ci_runs_make_test_and_make_test_runs_everything():
    assert "make test" in (ROOT / ".ci" / "run").read_text()
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"^test: lint typecheck labs-check unit colab notebooks", makefile, re.M)
    assert re.search(r"^typecheck: setup\n\t\$\(BIN\)/mypy$", makefile, re.M)
    assert PYPROJECT["tool"]["mypy"]["packages"] == ["coursekit"]
    assert "coursekit assign --check" in makefile and "coursekit readme --check" in makefile
    assert "--nbval-lax --nbval-current-env" in makefile and "COURSEKIT_PROFILE=smoke" in makefile


def ready_notebooks():
    return [p for m in MANIFEST.modules if m.status == "ready" for p in m.notebooks()]


@pytest.mark.parametrize("path", ready_notebooks())
def test_notebook_follows_the_conventions(path):
    nb = json.loads((ROOT / path).read_text())
    cells = nb["cells"]
    assert nb["metadata"].get("kernelspec", {}).get("name"), "kernelspec is needed by nbval and otter"
    code = [(i, c) for i, c in enumerate(cells) if c["cell_type"] == "code"]
    stored = [i for i, c in code if c.get("outputs") or c.get("execution_count")]
    assert not stored, f"{path}: outputs must be stripped (cells {stored})"
    first = "".join(cells[0]["source"])
    assert cells[0]["cell_type"] == "markdown" and first.startswith("# ")
    assert MANIFEST.colab_url(path) in first, f"{path}: cell 1 needs the Open-in-Colab badge for {path}"
    setup = "".join(cells[1]["source"])
    assert "import coursekit as ck" in setup and "ck.setup(" in setup
    config = "".join(cells[2]["source"])
    assert "ck.profile(" in config and "smoke=" in config and "fast=" in config and "full=" in config
