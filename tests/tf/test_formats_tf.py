"""TensorFlow-side real formats (a pytest process of its own, like tests/tf/test_style_tf.py): Keras' VGG19
notop .h5 weights and a TF-Hub SavedModel tarball, each served by a local HTTP server through the code path of
a real download and read back exactly; wrong or truncated files raise a ValueError naming what was expected.
"""

from __future__ import annotations

import dataclasses
import functools
import io
import tarfile

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")
h5py = pytest.importorskip("h5py")

import coursekit.tf as cktf  # noqa: E402

cktf.limit_threads(2)

from local_server import checksum_of  # noqa: E402

from coursekit.data import registry  # noqa: E402
from coursekit.tf import fast_style, style  # noqa: E402

pytestmark = pytest.mark.usefixtures("isolated")  # every test: its own cache, no network probe

NOTOP = "vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5"
# keras/src/applications/vgg19.py: blocks of 2, 2, 4, 4, 4 convolutions of 64, 128, 256, 512, 512 filters.
BLOCKS = ((2, 64), (2, 128), (4, 256), (4, 512), (4, 512))


def _serve_weights(server, monkeypatch, body: bytes, name: str = "keras_vgg19_notop") -> None:
    """The real registry entry with only its URL (the local server) and md5 (of ``body``) replaced."""
    real = registry.entry(name)
    remote = real.files[0]
    server.files[remote.filename] = body
    url = server.url(remote.filename)
    local = dataclasses.replace(remote, urls=(url,), checksum=checksum_of("md5", body))
    monkeypatch.setitem(registry.REGISTRY, name, dataclasses.replace(real, files=(local,)))


def _snapshot(folder):
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _layers(blocks=BLOCKS) -> list[tuple[str, tuple[int, ...] | None]]:
    """(layer name, kernel shape or None) in model order: input, blockI_convJ ..., blockI_pool."""
    layers, channels = [("input_1", None)], 3
    for block, (convs, filters) in enumerate(blocks, start=1):
        for conv in range(1, convs + 1):
            layers.append((f"block{block}_conv{conv}", (3, 3, channels, filters)))
            channels = filters
        layers.append((f"block{block}_pool", None))
    return layers


def _weight_names(layer: str, layout: str) -> list[str]:
    # 2016 (the published file, written by Keras 1/2 with the TensorFlow backend: variables named W and b):
    #   <layer>/<layer>_W_1:0 and <layer>/<layer>_b_1:0.
    # tf.keras 2.x save_weights(".h5"): <layer>/<layer>/kernel:0 and <layer>/<layer>/bias:0.
    if layout == "2016":
        return [f"{layer}_W_1:0", f"{layer}_b_1:0"]
    return [f"{layer}/kernel:0", f"{layer}/bias:0"]


@functools.lru_cache(maxsize=4)
def _notop_h5(layout: str = "2016", blocks=BLOCKS) -> tuple[bytes, dict[str, tuple[np.ndarray, np.ndarray]]]:
    """Keras' legacy HDF5 weights layout at full size (20M float32, 80 MB): root attribute ``layer_names``
    (every layer, weightless ones included), one group per layer with attribute ``weight_names`` (empty for
    input and pooling layers) and one dataset per weight: kernels (3, 3, in, out) then biases (out,)."""
    rng = np.random.default_rng(7)
    weights = {}
    buffer = io.BytesIO()
    with h5py.File(buffer, "w") as f:
        layers = _layers(blocks)
        f.attrs["layer_names"] = np.array([name.encode() for name, _ in layers])
        f.attrs["backend"] = b"tensorflow"
        for name, shape in layers:
            group = f.create_group(name)
            if shape is None:
                group.attrs["weight_names"] = np.array([], dtype="S1")
                continue
            kernel = rng.standard_normal(shape, dtype=np.float32)
            bias = rng.standard_normal(shape[-1], dtype=np.float32)
            names = _weight_names(name, layout)
            group.attrs["weight_names"] = np.array([n.encode() for n in names])
            group.create_dataset(names[0], data=kernel)
            group.create_dataset(names[1], data=bias)
            weights[name] = (kernel, bias)
    return buffer.getvalue(), weights


@pytest.mark.parametrize("layout", ["2016", "keras2"])
def test_keras_vgg19_notop_h5_downloaded_and_loaded_exactly(server, monkeypatch, isolated, capsys, layout):
    body, weights = _notop_h5(layout)
    assert body[:8] == b"\x89HDF\r\n\x1a\n"
    _serve_weights(server, monkeypatch, body)
    model, source = style.vgg19(include_top=False, weights="imagenet")
    assert source == "imagenet" and "ImageNet weights from" in capsys.readouterr().out
    loaded = {layer.name: layer for layer in model.layers if getattr(layer, "kernel", None) is not None}
    assert sorted(loaded) == sorted(weights) and len(loaded) == 16
    for name, (kernel, bias) in weights.items():
        np.testing.assert_array_equal(loaded[name].kernel.numpy(), kernel, err_msg=name)
        np.testing.assert_array_equal(loaded[name].bias.numpy(), bias, err_msg=name)
    again, source = style.vgg19(include_top=False, weights="auto")  # from the cache: no second download
    assert source == "imagenet" and server.requests == [f"/{NOTOP}"]
    np.testing.assert_array_equal(again.get_layer("block5_conv4").kernel.numpy(), weights["block5_conv4"][0])
    assert _snapshot(isolated) == {f"keras_vgg19_notop/{NOTOP}": body}


def _truncated():
    body = _notop_h5()[0]
    return body[
        : len(body) // 2
    ], r"expected Keras' VGG19 weights \(an HDF5 \.h5 file with 16 layers.*truncated file"


def _not_hdf5():
    return (
        b"<html>quota exceeded</html>",
        r"expected Keras' VGG19 weights \(an HDF5 .*file signature not found",
    )


def _vgg16_notop():
    vgg16 = ((2, 64), (2, 128), (3, 256), (3, 512), (3, 512))
    return _notop_h5("2016", vgg16)[
        0
    ], r"expected Keras' VGG19 weights \(an HDF5 \.h5 file with 16 layers.*found 13 saved layers"


@pytest.mark.parametrize("make", [_truncated, _not_hdf5, _vgg16_notop])
def test_keras_wrong_h5_raises_clearly_and_keeps_the_cache(server, monkeypatch, isolated, make):
    body, match = make()
    _serve_weights(server, monkeypatch, body)
    with pytest.raises(ValueError, match=match) as info:
        style.vgg19(include_top=False, weights="imagenet")
    assert NOTOP in str(info.value)
    assert _snapshot(isolated) == {f"keras_vgg19_notop/{NOTOP}": body}


def test_keras_truncated_download_is_refused_and_auto_falls_back(server, monkeypatch, isolated, capsys):
    monkeypatch.setitem(registry._online_cache, "online", True)
    body = _notop_h5()[0]
    _serve_weights(server, monkeypatch, body)
    server.files[NOTOP] = body[: len(body) // 2]  # the md5 is the whole file's
    model, source = style.vgg19(include_top=False, weights="auto")
    out = capsys.readouterr().out
    assert source == "random" and "checksum mismatch" in out and "RANDOM WEIGHTS" in out
    assert _snapshot(isolated) == {}


def _hub_tarball(tmp_path) -> tuple[bytes, fast_style.FastStylizer]:
    """What tfhub.dev serves for ``<handle>?tf-hub-format=compressed``: a .tar.gz of the SavedModel folder's
    contents (saved_model.pb, variables/) with paths relative to the model root."""
    model = fast_style.FastStylizer(transformer_widths=(4, 8, 8), residual_blocks=1, predictor_widths=(4, 8))
    folder = fast_style.export_hub(model, tmp_path / "exported")
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for path in sorted(folder.rglob("*")):
            archive.add(path, arcname=str(path.relative_to(folder)), recursive=False)
    return buffer.getvalue(), model


@pytest.mark.slow
def test_tfhub_model_downloaded_by_tensorflow_hub_and_run(server, monkeypatch, tmp_path, capsys):
    """real_hub_model() with the registry's handle pointed at the local server: tensorflow_hub downloads the
    compressed SavedModel into TFHUB_CACHE_DIR, and the loaded module stylizes exactly as the model did."""
    body, model = _hub_tarball(tmp_path)
    server.files["stylization?tf-hub-format=compressed"] = body
    real = registry.entry("tfhub_stylization")
    monkeypatch.setitem(
        registry.REGISTRY, "tfhub_stylization", dataclasses.replace(real, url=server.url("stylization"))
    )
    monkeypatch.setenv("TFHUB_CACHE_DIR", str(tmp_path / "tfhub"))
    monkeypatch.setitem(registry._online_cache, "online", True)
    loaded = fast_style.real_hub_model(timeout=10)
    assert loaded is not None and "TF-Hub: loaded" in capsys.readouterr().out
    assert server.requests == ["/stylization?tf-hub-format=compressed"]
    content = tf.random.uniform((1, 20, 28, 3), seed=1)
    style_image = tf.random.uniform((1, 256, 256, 3), seed=2)
    np.testing.assert_array_equal(
        loaded(content, style_image)[0].numpy(), model(content, style_image).numpy()
    )


def test_tfhub_broken_download_falls_back_with_the_reason(server, monkeypatch, tmp_path, capsys):
    server.files["stylization?tf-hub-format=compressed"] = b"\x1f\x8b not really a tarball"
    real = registry.entry("tfhub_stylization")
    monkeypatch.setitem(
        registry.REGISTRY, "tfhub_stylization", dataclasses.replace(real, url=server.url("stylization"))
    )
    monkeypatch.setenv("TFHUB_CACHE_DIR", str(tmp_path / "tfhub"))
    monkeypatch.setitem(registry._online_cache, "online", True)
    assert fast_style.real_hub_model(timeout=10) is None
    out = capsys.readouterr().out
    assert "could not load" in out and "our own model stands in" in out
    leftovers = [p for p in (tmp_path / "tfhub").rglob("*") if p.is_file() and p.suffix != ".lock"]
    assert leftovers == [], f"a failed TF-Hub download left files behind: {leftovers}"
