"""coursekit.deprecation: retired keywords (renamed_keywords) and moved modules (moved_module) keep working
for one release and warn, naming the new name."""

import inspect
import sys
import types
import warnings

import pytest

from coursekit.deprecation import moved_module, renamed_keywords


def test_renamed_keywords_maps_the_old_name_with_a_warning_naming_the_new_one():
    @renamed_keywords(nf="width")
    def build(width: int = 1, depth: int = 2):
        return width, depth

    with pytest.warns(DeprecationWarning, match=r"build: keyword 'nf' is now 'width'"):
        assert build(nf=5, depth=3) == (5, 3)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert build(width=4) == (4, 2)
    with pytest.raises(TypeError, match=r"got 'nf' \(the old name of 'width'\) and 'width'"):
        build(nf=1, width=2)


def test_renamed_keywords_on_a_class_keeps_the_signature_and_subclass_calls():
    @renamed_keywords(latent="z_dim")
    class Model:
        def __init__(self, z_dim: int = 8):
            self.z_dim = z_dim

    assert list(inspect.signature(Model).parameters) == ["z_dim"]
    with pytest.warns(DeprecationWarning, match="Model: keyword 'latent' is now 'z_dim'"):
        assert Model(latent=3).z_dim == 3


def test_renamed_keywords_refuses_a_mapping_the_signature_does_not_fit():
    with pytest.raises(TypeError, match="cannot retire 'nf' for 'width'"):
        renamed_keywords(nf="width")(lambda channels: channels)


@pytest.fixture
def moved(monkeypatch):
    """An alias module ``old_place`` of ``json`` (a stand-in for a moved coursekit module)."""
    alias = types.ModuleType("old_place")
    alias.__getattr__, alias.__dir__ = moved_module("old_place", "json")
    monkeypatch.setitem(sys.modules, "old_place", alias)
    return alias


def test_moved_module_gives_the_new_attributes_and_warns_once_at_the_caller(moved):
    import json

    with pytest.warns(DeprecationWarning, match="old_place moved to json") as caught:
        assert moved.dumps is json.dumps
    assert len(caught) == 1 and caught[0].filename == __file__
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert moved.loads is json.loads
    assert "dumps" in dir(moved)
    with pytest.raises(AttributeError, match=r"no attribute 'nothing' \(it moved to 'json'\)"):
        moved.nothing  # noqa: B018  (the read itself must fail)


def test_moved_module_star_import_gives_the_new_modules_public_names(moved):
    import json

    namespace: dict = {}
    with pytest.warns(DeprecationWarning, match="old_place moved to json"):
        exec("from old_place import *", namespace)
    assert all(namespace[name] is getattr(json, name) for name in json.__all__)
