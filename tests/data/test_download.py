"""Registry and downloads, against a local HTTP server on 127.0.0.1 (never the internet)."""

from __future__ import annotations

import gzip
import importlib
import io
import socket
import struct
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from local_server import checksum_of
from PIL import Image

import coursekit.data as ckd
from coursekit.data import download, registry
from coursekit.data.registry import DownloadError, Entry, RemoteFile

pytestmark = pytest.mark.usefixtures("isolated")  # every test: its own cache, no network probe


def _closed_port_url(name: str) -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/{name}"


def _register(monkeypatch, name: str, files: tuple[RemoteFile, ...], **fields) -> Entry:
    item = Entry(
        name=name, title="test entry", kind="dataset", licence="test", stand_in="none", files=files, **fields
    )
    monkeypatch.setitem(registry.REGISTRY, name, item)
    return item




def _listing(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.rglob("*")) if folder.exists() else []


@pytest.mark.parametrize("algorithm", ["sha256", "md5", "sha256-prefix"])
def test_good_checksum_lands_in_cache_once(server, monkeypatch, isolated, algorithm):
    payload = b"coursekit test payload " * 100
    server.files["toy.bin"] = payload
    _register(
        monkeypatch,
        "toy",
        (RemoteFile("toy.bin", (server.url("toy.bin"),), checksum_of(algorithm, payload), len(payload)),),
    )
    folder = registry.fetch("toy")
    assert folder == isolated / "toy"
    assert (folder / "toy.bin").read_bytes() == payload
    assert _listing(folder) == ["toy.bin"]
    registry.fetch("toy")
    assert server.requests == ["/toy.bin"], "a verified cached file must not be downloaded again"
    registry.fetch("toy", force=True)
    assert len(server.requests) == 2


def test_download_shows_progress_in_bytes(server, monkeypatch, isolated, capsys):
    payload = bytes(range(256)) * 12_000  # 3 MB: three 1 MiB chunks
    server.files["big.bin"] = payload
    remote = RemoteFile("big.bin", (server.url("big.bin"),), checksum_of("sha256", payload))
    _register(monkeypatch, "toy", (remote,))
    registry.fetch("toy")
    progress = capsys.readouterr().err
    assert "big.bin" in progress and "100%" in progress, progress
    assert "2.93M/2.93M" in progress, "the size comes from Content-Length when the registry has none"


def test_second_mirror_used_when_first_unreachable(server, monkeypatch):
    payload = b"mirror"
    server.files["m.bin"] = payload
    _register(
        monkeypatch,
        "toy",
        (
            RemoteFile(
                "m.bin", (_closed_port_url("m.bin"), server.url("m.bin")), checksum_of("sha256", payload)
            ),
        ),
    )
    assert (registry.fetch("toy") / "m.bin").read_bytes() == payload


@pytest.mark.parametrize("size_ok", [True, False])
def test_bad_checksum_or_size_leaves_cache_clean(server, monkeypatch, isolated, size_ok):
    payload = b"the real bytes"
    server.files["bad.bin"] = payload
    checksum = checksum_of("sha256", b"other bytes") if size_ok else checksum_of("sha256", payload)
    size = len(payload) if size_ok else len(payload) + 1
    _register(monkeypatch, "toy", (RemoteFile("bad.bin", (server.url("bad.bin"),), checksum, size),))
    with pytest.raises(DownloadError, match="expected") as info:
        registry.fetch("toy")
    assert info.value.reason == "checksum mismatch"
    assert _listing(isolated) in ([], ["toy"]), "no file and no temp file may stay behind"


def test_corrupt_cached_file_is_downloaded_again(server, monkeypatch, isolated):
    payload = b"fresh"
    server.files["c.bin"] = payload
    _register(
        monkeypatch, "toy", (RemoteFile("c.bin", (server.url("c.bin"),), checksum_of("sha256", payload)),)
    )
    (isolated / "toy").mkdir(parents=True)
    (isolated / "toy" / "c.bin").write_bytes(b"stale")
    registry.fetch("toy")
    assert (isolated / "toy" / "c.bin").read_bytes() == payload


def _idx_images(images: np.ndarray) -> bytes:
    return gzip.compress(struct.pack(">HBB", 0, 8, 3) + struct.pack(">3I", *images.shape) + images.tobytes())


def _idx_labels(labels: np.ndarray) -> bytes:
    return gzip.compress(struct.pack(">HBB", 0, 8, 1) + struct.pack(">I", len(labels)) + labels.tobytes())


def _serve_fake_mnist(server, monkeypatch, urls=None) -> None:
    """A 6-image 'MNIST' on the local server, registered under the real entry's name with its own sha256s."""
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (6, 28, 28), dtype=np.uint8)
    labels = np.arange(6, dtype=np.uint8)
    payloads = {}
    for prefix in ("train", "t10k"):
        payloads[f"{prefix}-images-idx3-ubyte.gz"] = _idx_images(images)
        payloads[f"{prefix}-labels-idx1-ubyte.gz"] = _idx_labels(labels)
    server.files.update(payloads)
    files = tuple(
        RemoteFile(name, ((urls or server.url)(name),), checksum_of("sha256", body), len(body))
        for name, body in payloads.items()
    )
    monkeypatch.setitem(
        registry.REGISTRY, "mnist", Entry("mnist", "fake MNIST", "dataset", "test", "digits", files=files)
    )


def test_digits_online_parses_mnist_idx(server, monkeypatch, capsys):
    _serve_fake_mnist(server, monkeypatch)
    data = ckd.digits("test", size=28, source="online")
    assert data.images.shape == (6, 1, 28, 28) and data.images.dtype.is_floating_point
    assert data.labels.tolist() == [0, 1, 2, 3, 4, 5]
    assert "MNIST" in data.source
    assert capsys.readouterr().out.count("\n") == 1, "a load prints exactly one line"


def test_auto_uses_cache_without_network(server, monkeypatch, capsys):
    _serve_fake_mnist(server, monkeypatch)
    registry.fetch("mnist")
    requests = len(server.requests)
    data = ckd.digits("train", source="auto")  # the probe says 'no network', yet the cache is used
    assert "MNIST" in data.source and len(server.requests) == requests
    assert capsys.readouterr().out.startswith("data: digits <- MNIST")


def test_unreachable_falls_back_quickly_with_notice(monkeypatch, capsys):
    monkeypatch.setitem(registry._online_cache, "online", True)  # the probe said yes; the host then refuses
    _serve_fake_mnist(_NoServer(), monkeypatch, urls=_closed_port_url)
    ckd.digits("train", source="offline")  # import scikit-learn first: only the fallback is timed
    capsys.readouterr()
    start = time.perf_counter()
    data = ckd.digits("train", source="auto")
    assert time.perf_counter() - start < 5
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 2 and "unreachable" in out[0] and "falling back" in out[0]
    assert out[1].startswith("data: digits <- scikit-learn bundled handwritten digits")
    assert "scikit-learn" in data.source


class _NoServer:
    files: dict[str, bytes] = {}


def test_offline_forced_touches_no_network(server, monkeypatch, capsys):
    _serve_fake_mnist(server, monkeypatch)
    monkeypatch.setenv(registry.ENV_OFFLINE, "1")

    def no_probe(*args):
        raise AssertionError("the network was probed although COURSEKIT_OFFLINE=1")

    monkeypatch.setattr(registry, "_connects", no_probe)
    assert registry.offline_forced() and not registry.is_online()
    assert registry.network_status() == "offline (COURSEKIT_OFFLINE=1)"
    data = ckd.digits("train", source="auto")
    assert "scikit-learn" in data.source
    assert "offline forced" in capsys.readouterr().out
    with pytest.raises(DownloadError, match="forces offline") as info:
        registry.fetch("mnist")
    assert info.value.reason == "offline forced"
    with pytest.raises(DownloadError):
        ckd.digits(source="online")
    assert server.requests == []


def test_checksum_mismatch_in_auto_falls_back(server, monkeypatch, capsys, isolated):
    monkeypatch.setitem(registry._online_cache, "online", True)
    _serve_fake_mnist(server, monkeypatch)
    server.files["train-images-idx3-ubyte.gz"] = b"tampered"
    data = ckd.digits("train", source="auto")
    assert "scikit-learn" in data.source
    assert "checksum mismatch" in capsys.readouterr().out
    assert not any(p.suffix == ".part" for p in isolated.rglob("*"))


def test_network_status_and_probe_cache(monkeypatch):
    calls = []
    monkeypatch.setattr(registry, "_connects", lambda host, port, timeout: calls.append(host) or True)
    assert registry.network_status() == "online"
    registry.is_online()
    assert len(calls) == 1, "the probe result is cached per process"
    monkeypatch.setattr(registry, "_online_cache", {})
    monkeypatch.setattr(registry, "_connects", lambda host, port, timeout: False)
    assert registry.network_status() == "offline (no network)"


def test_cache_dir_from_env(monkeypatch, tmp_path):
    monkeypatch.setenv(registry.ENV_CACHE, str(tmp_path / "x"))
    assert registry.cache_dir() == tmp_path / "x"
    monkeypatch.delenv(registry.ENV_CACHE)
    assert registry.cache_dir() == Path.home() / ".cache" / "coursekit"


def test_registry_entries_and_refusals():
    assert {"mnist", "celeba", "vgg19", "div2k_valid_hr", "tfhub_stylization"} <= set(registry.names())
    for name in registry.names():
        assert name in registry.entry(name).summary()
    assert registry.entry("vgg19").files[0].checksum == "sha256-prefix:dcbb9e9d"
    assert registry.entry("mnist").verified and registry.entry("mnist").downloadable
    with pytest.raises(ValueError, match="did you mean 'mnist'"):
        registry.entry("mnsit")
    with pytest.raises(DownloadError, match="Google Drive") as info:
        registry.fetch("celeba")
    assert info.value.reason == "manual download"
    with pytest.raises(DownloadError, match="tensorflow_hub.load"):
        registry.fetch("tfhub_stylization")


def test_unverified_entry_is_not_downloadable(server, monkeypatch):
    server.files["u.bin"] = b"x"
    item = _register(monkeypatch, "toy", (RemoteFile("u.bin", (server.url("u.bin"),), None),))
    assert not item.downloadable and "NOT downloadable" in item.summary()
    with pytest.raises(DownloadError, match="no confirmed checksum"):
        registry.fetch("toy")
    assert server.requests == []


@pytest.mark.parametrize("checksum", ["crc32:abcd", "sha256:XYZ", "sha256:"])
def test_malformed_checksum_rejected(checksum):
    with pytest.raises(ValueError, match="checksum"):
        RemoteFile("f", ("http://127.0.0.1/f",), checksum)


def test_bad_source_rejected():
    with pytest.raises(ValueError, match="'auto', 'online', 'offline'"):
        download.resolve("mnist", "internet")


def _fake_celeba(folder: Path, n: int) -> dict[str, bytes]:
    """Three tiny 'CelebA' files: a zip of n 178x218 JPEGs and the attribute/partition lists."""
    names = [f"{i + 1:06d}.jpg" for i in range(n)]
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as z:
        for i, name in enumerate(names):
            picture = io.BytesIO()
            Image.new("RGB", (178, 218), (40 * i % 256, 100, 200)).save(picture, format="JPEG")
            z.writestr(f"img_align_celeba/{name}", picture.getvalue())
    columns = ["Bangs", "Black_Hair", "Eyeglasses", "Male", "No_Beard", "Smiling", "Wearing_Hat"]
    rows = [
        f"{name} " + " ".join("1" if (i + j) % 2 else "-1" for j in range(len(columns)))
        for i, name in enumerate(names)
    ]
    files = {
        "img_align_celeba.zip": archive.getvalue(),
        "list_attr_celeba.txt": "\n".join([str(n), " ".join(columns), *rows]).encode(),
        "list_eval_partition.txt": "\n".join(f"{name} 0" for name in names).encode(),
    }
    folder.mkdir(parents=True)
    for name, body in files.items():
        (folder / name).write_bytes(body)
    return files


def test_faces_use_celeba_when_in_cache(monkeypatch, isolated, capsys):
    files = _fake_celeba(isolated / "celeba", 3)
    celeba = registry.entry("celeba")
    remote = tuple(RemoteFile(name, (), checksum_of("md5", body)) for name, body in files.items())
    monkeypatch.setitem(registry.REGISTRY, "celeba", Entry(**{**celeba.__dict__, "files": remote}))
    data = ckd.faces(n=2, size=32)
    assert data.images.shape == (2, 3, 32, 32) and "CelebA" in data.source
    # row 0 alternates -1, 1, ... over Bangs, Black_Hair, Eyeglasses, Male, No_Beard, Smiling, Wearing_Hat;
    # 'beard' is the negation of No_Beard (-1 -> beard)
    assert dict(zip(data.attribute_names, data.attributes[0].tolist(), strict=True)) == {
        "smiling": 1.0,
        "eyeglasses": 0.0,
        "dark_hair": 1.0,
        "bangs": 0.0,
        "hat": 0.0,
        "beard": 1.0,
        "male": 1.0,
    }
    assert capsys.readouterr().out.startswith("data: faces <- CelebA")


def test_celeba_faces_are_resized_in_chunks(monkeypatch, isolated):
    """The full profile asks for 20,000 CelebA faces (lectures 02 and 04): decoded at 178x178 in float32 they
    would take 7.6 GB, twice over while stacked, more than a Colab machine has. They are resized a chunk at a
    time, so at most ``CELEBA_CHUNK`` full-size pictures are held at once; the result is the same."""
    faces_module = importlib.import_module("coursekit.data.faces")  # coursekit.data.faces is the function
    files = _fake_celeba(isolated / "celeba", 300)
    celeba = registry.entry("celeba")
    remote = tuple(RemoteFile(name, (), checksum_of("md5", body)) for name, body in files.items())
    monkeypatch.setitem(registry.REGISTRY, "celeba", Entry(**{**celeba.__dict__, "files": remote}))
    resized = []
    real_resize = faces_module.resize_images

    def spy(images, size):
        resized.append(len(images))
        return real_resize(images, size)

    monkeypatch.setattr(faces_module, "resize_images", spy)
    data = ckd.faces(n=300, size=32)
    assert data.images.shape == (300, 3, 32, 32) and sum(resized) == 300
    assert max(resized) <= 256, f"resized {max(resized)} full-size pictures at once"
    assert torch.equal(ckd.faces(n=3, size=32).images, data.images[:3])


def test_faces_without_celeba_say_why(capsys):
    data = ckd.faces(n=4, source="auto")
    out = capsys.readouterr().out.splitlines()
    assert "manual download" in out[0] and out[1].startswith("data: faces <- procedural faces")
    assert "procedural" in data.source


def _serve_fake_div2k(server, monkeypatch, count: int) -> None:
    """A DIV2K validation zip of ``count`` small PNGs on the local server, under the real entry's name."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for i in range(count):
            png = io.BytesIO()
            Image.fromarray(np.full((20 + i, 30, 3), 40 * i, dtype=np.uint8)).save(png, format="png")
            archive.writestr(f"DIV2K_valid_HR/{801 + i:04d}.png", png.getvalue())
    body = buffer.getvalue()
    server.files["DIV2K_valid_HR.zip"] = body
    url = server.url("DIV2K_valid_HR.zip")
    remote = RemoteFile("DIV2K_valid_HR.zip", (url,), checksum_of("sha256", body))
    _register(monkeypatch, "div2k_valid_hr", (remote,))


def test_photos_online_reads_div2k_from_its_zip(server, monkeypatch, capsys):
    _serve_fake_div2k(server, monkeypatch, count=3)
    test = ckd.photos("test", source="online", max_images=2)
    assert test.names == ["0801", "0802"] and "DIV2K" in test.source
    assert [tuple(im.shape) for im in test.images] == [(3, 20, 30), (3, 21, 30)]
    assert float(test.images[1].mean()) == pytest.approx(40 / 255)
    assert "data: photos <- DIV2K" in capsys.readouterr().out


def test_photos_auto_falls_back_to_bundled_when_div2k_unreachable(monkeypatch, capsys):
    test = ckd.photos("test", source="auto")
    out = capsys.readouterr().out
    assert "network unreachable" in out and "bundled photos" in out
    assert test.names == ["chelsea", "coffee", "flower"]


def test_photos_default_never_touches_the_network(monkeypatch):
    monkeypatch.setattr(registry, "is_online", lambda *a, **k: pytest.fail("the default must not probe"))
    assert ckd.photos("test").names == ["chelsea", "coffee", "flower"]
    with pytest.raises(ValueError, match="photos source"):
        ckd.photos("test", source="div2k")
