"""The glossary of coursekit/nn/README.md: one name per thing in every public constructor and step builder,
retired names accepted with a DeprecationWarning, and nothing in the repo still calling with them."""

from __future__ import annotations

import ast
import importlib
import inspect
import json
import pkgutil
import re
import typing
from pathlib import Path

import pytest

import coursekit.nn

ROOT = Path(__file__).resolve().parents[2]
RETIRED = {"image_size", "latent_dim", "latent", "in_ch", "out_ch", "nf", "n_feats", "nb", "n_res",
           "n_res_in", "n_res_out", "gc", "blocks"}
ALIASES = {"coursekit.nn.degradation"}  # a moved module's old name (coursekit.deprecation.moved_module)
MODULES = sorted(
    {f"coursekit.nn.{m.name}" for m in pkgutil.iter_modules(coursekit.nn.__path__)} - ALIASES
    | {"coursekit.train", "coursekit.losses"}
)


def public_callables(module_name: str):
    """(name, signature) of each public class (its __init__) and function defined in the module; a TypedDict
    (keyword settings such as learned_degradation.ADAM's type) names dictionary keys, not arguments."""
    module = importlib.import_module(module_name)
    for name, obj in vars(module).items():
        if name.startswith("_") or getattr(obj, "__module__", None) != module_name:
            continue
        if (inspect.isclass(obj) and not typing.is_typeddict(obj)) or inspect.isfunction(obj):
            yield name, inspect.signature(obj)


def retired_in(module_name: str) -> list[str]:
    found = []
    for name, signature in public_callables(module_name):
        used = RETIRED & set(signature.parameters)
        if "Discriminator" in name and "width" in signature.parameters:
            used.add("width (a discriminator's base width is ndf)")
        found += [f"{name}({p})" for p in sorted(used)]
    return found


@pytest.mark.parametrize("module_name", MODULES)
def test_no_public_signature_uses_a_retired_name(module_name):
    assert retired_in(module_name) == []


def test_the_readme_glossary_names_every_retired_name():
    readme = (ROOT / "coursekit" / "nn" / "README.md").read_text()
    assert [name for name in sorted(RETIRED) if f"`{name}`" not in readme] == []


def warned_renames(caught) -> set[str]:
    """The renames named by the DeprecationWarnings in ``caught``, as "Owner: 'old' -> 'new'"."""
    found = (re.match(r"(\w+): keyword '(\w+)' is now '(\w+)'", str(w.message)) for w in caught)
    return {f"{m[1]}: '{m[2]}' -> '{m[3]}'" for m in found if m}


def test_real_constructors_accept_their_retired_names_with_a_warning():
    from coursekit.nn import esrgan, vae

    with pytest.warns(DeprecationWarning) as caught:
        net = esrgan.RRDBNet(scale=2, nf=8, nb=1, gc=4)
    assert (net.width, net.n_blocks, net.growth) == (8, 1, 4)
    assert warned_renames(caught) == {"RRDBNet: 'nf' -> 'width'", "RRDBNet: 'nb' -> 'n_blocks'",
                                      "RRDBNet: 'gc' -> 'growth'"}
    with pytest.warns(DeprecationWarning) as caught:
        assert vae.MLPVAE(image_size=8, latent_dim=3).z_dim == 3
    assert warned_renames(caught) == {"MLPVAE: 'image_size' -> 'size'", "MLPVAE: 'latent_dim' -> 'z_dim'"}


def test_learned_degradation_accepts_nf_and_blocks_with_a_warning():
    from coursekit.nn.learned_degradation import HighToLow, LowToHigh, PreActBlock, SNDiscriminator

    with pytest.warns(DeprecationWarning) as caught:
        h2l = HighToLow(nf=8, blocks=2)
    assert warned_renames(caught) == {"HighToLow: 'nf' -> 'width'", "HighToLow: 'blocks' -> 'n_blocks'"}
    assert h2l.conv_in.out_channels == 8 and sum(isinstance(m, PreActBlock) for m in h2l.body) == 4
    with pytest.warns(DeprecationWarning, match="LowToHigh: keyword 'blocks' is now 'n_blocks'"):
        assert len(LowToHigh(width=8, blocks=3).body) == 3
    with pytest.warns(DeprecationWarning, match="SNDiscriminator: keyword 'nf' is now 'ndf'"):
        assert SNDiscriminator(16, nf=4).features[0].out_channels == 4


def renamed_callables() -> dict[str, set[str]]:
    """Name -> retired keywords of every callable decorated with renamed_keywords."""
    names: dict[str, set[str]] = {}
    for module_name in MODULES:
        for name, obj in vars(importlib.import_module(module_name)).items():
            mapping = getattr(obj.__init__ if inspect.isclass(obj) else obj, "renamed_keywords", None)
            if mapping and getattr(obj, "__module__", None) == module_name:
                names.setdefault(name, set()).update(mapping)
    return names


def code_sources():
    """(label, source) of every notebook code cell and Python file that calls coursekit."""
    for folder in ("lectures", "solutions", "labs"):
        for path in sorted((ROOT / folder).glob("*.ipynb")):
            cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
            for i, cell in enumerate(cells):
                if cell["cell_type"] == "code":
                    source = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
                    lines = [line for line in source.splitlines() if not line.lstrip().startswith(("%", "!"))]
                    yield f"{path.relative_to(ROOT)} cell {i}", "\n".join(lines)
    for folder in ("benchmarks", "tests", "coursekit"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            if path.name != Path(__file__).name:
                yield str(path.relative_to(ROOT)), path.read_text(encoding="utf-8")


def test_nothing_in_the_repo_calls_with_a_retired_keyword():
    renamed = renamed_callables()
    assert {"RRDBNet", "MLPVAE", "SpatialVAE"} <= set(renamed)
    calls = []
    for label, source in code_sources():
        try:
            tree = ast.parse(source)
        except SyntaxError:  # a lab's blank to fill in
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                func = getattr(node.func, "attr", getattr(node.func, "id", None))
                old = {k.arg for k in node.keywords} & renamed.get(func, set())
                calls += [f"{label}: {func}({name}=...)" for name in sorted(old)]
    assert calls == []
