"""Every real-format reader on small files in exactly the real format, served the way a real download is.

Each test writes a file the way its publisher did (MNIST's gzip'd big-endian IDX, CelebA's zip + two text
lists, DIV2K's zip of PNGs, torchvision's VGG19 state dict), registers it under the real registry entry with
only the URLs (a local HTTP server on 127.0.0.1) and the checksum (computed for the test file) replaced, and
checks that the public loader returns exactly what the file holds. A wrong or truncated file must raise a
ValueError that names what was expected and what came, and leave the cache as it was. Keras' .h5 weights
and the TF-Hub SavedModel are tested in tests/tf/test_formats_tf.py (a TensorFlow process of its own).
"""

from __future__ import annotations

import dataclasses
import functools
import gzip
import io
import struct
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from local_server import checksum_of
from PIL import Image

import coursekit.data as ckd
from coursekit.data import registry
from coursekit.data.registry import DownloadError
from coursekit.nn import vgg

pytestmark = pytest.mark.usefixtures("isolated")  # every test: its own cache, no network probe


def _serve(
    server, monkeypatch, name: str, payloads: dict[str, bytes], checksums: dict[str, bytes] | None = None
):
    """Put ``payloads`` on the local server and point the REAL registry entry ``name`` at it: same file
    names, same checksum algorithm; only the URLs and digests (of ``checksums[file]``, default the payload)
    change."""
    real = registry.entry(name)
    files = []
    for remote in real.files:
        body = payloads[remote.filename]
        server.files[remote.filename] = body
        algorithm = remote.checksum.partition(":")[0]
        reference = (checksums or {}).get(remote.filename, body)
        size = None if remote.size is None else len(reference)
        files.append(
            dataclasses.replace(
                remote,
                urls=(server.url(remote.filename),),
                checksum=checksum_of(algorithm, reference),
                size=size,
            )
        )
    monkeypatch.setitem(registry.REGISTRY, name, dataclasses.replace(real, files=tuple(files)))


def _snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` (temp files included) with its bytes."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


# --------------------------------------------------------------------------------------------------- MNIST
IDX_UBYTE = 0x08


def _idx(array: np.ndarray) -> bytes:
    """The IDX format of LeCun's site: magic 0x00 0x00 <type 0x08 = ubyte> <ndim>, ndim big-endian uint32
    sizes, then the data in C order (images: magic 0x00000803, labels: 0x00000801)."""
    header = struct.pack(">BBBB", 0, 0, IDX_UBYTE, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(">u1").tobytes()


def _mnist_files(train: int = 7, test: int = 5) -> tuple[dict[str, bytes], dict[str, np.ndarray]]:
    rng = np.random.default_rng(1)
    arrays = {
        "train-images-idx3-ubyte.gz": rng.integers(0, 256, (train, 28, 28), dtype=np.uint8),
        "train-labels-idx1-ubyte.gz": rng.integers(0, 10, train, dtype=np.uint8),
        "t10k-images-idx3-ubyte.gz": rng.integers(0, 256, (test, 28, 28), dtype=np.uint8),
        "t10k-labels-idx1-ubyte.gz": rng.integers(0, 10, test, dtype=np.uint8),
    }
    return {name: gzip.compress(_idx(a)) for name, a in arrays.items()}, arrays


def test_mnist_idx_magic_numbers_are_the_real_ones():
    payloads, _ = _mnist_files()
    assert gzip.decompress(payloads["train-images-idx3-ubyte.gz"])[:4] == bytes.fromhex("00000803")
    assert gzip.decompress(payloads["train-labels-idx1-ubyte.gz"])[:4] == bytes.fromhex("00000801")
    assert gzip.decompress(payloads["train-images-idx3-ubyte.gz"])[4:16] == struct.pack(">3I", 7, 28, 28)


def test_mnist_downloaded_and_read_exactly(server, monkeypatch, isolated, capsys):
    payloads, arrays = _mnist_files()
    _serve(server, monkeypatch, "mnist", payloads)
    for split, prefix in (("train", "train"), ("test", "t10k")):
        data = ckd.digits(split, size=28, source="online")
        images = arrays[f"{prefix}-images-idx3-ubyte.gz"]
        assert data.images.shape == (len(images), 1, 28, 28)
        assert np.array_equal((data.images[:, 0].numpy() * 255).round().astype(np.uint8), images)
        assert data.labels.dtype == torch.int64
        assert data.labels.tolist() == arrays[f"{prefix}-labels-idx1-ubyte.gz"].tolist()
        assert f"MNIST {split} ({len(images)} images" in data.source
    assert sorted(server.requests) == sorted(f"/{name}" for name in payloads), "each file downloaded once"
    assert sorted(_snapshot(isolated)) == sorted(f"mnist/{name}" for name in payloads)


def _swap_images_and_labels(payloads):
    payloads["train-images-idx3-ubyte.gz"], payloads["train-labels-idx1-ubyte.gz"] = (
        payloads["train-labels-idx1-ubyte.gz"],
        payloads["train-images-idx3-ubyte.gz"],
    )


def _truncate_idx_data(payloads):
    raw = gzip.decompress(payloads["train-images-idx3-ubyte.gz"])
    payloads["train-images-idx3-ubyte.gz"] = gzip.compress(raw[: len(raw) - 100])


def _truncate_gzip(payloads):
    body = payloads["train-images-idx3-ubyte.gz"]
    payloads["train-images-idx3-ubyte.gz"] = body[: len(body) // 2]


def _not_gzip(payloads):
    payloads["train-images-idx3-ubyte.gz"] = gzip.decompress(payloads["train-images-idx3-ubyte.gz"])


def _float_idx(payloads):
    header = struct.pack(">BBBB", 0, 0, 0x0D, 3) + struct.pack(">3I", 7, 28, 28)  # 0x0D = float32
    payloads["train-images-idx3-ubyte.gz"] = gzip.compress(header + np.zeros((7, 28, 28), ">f4").tobytes())


def _label_count(payloads):
    payloads["train-labels-idx1-ubyte.gz"] = gzip.compress(_idx(np.zeros(6, np.uint8)))


@pytest.mark.parametrize(
    ("corrupt", "match"),
    [
        (_swap_images_and_labels, r"expected an IDX file of 3 dimensions .*got 1"),
        (_truncate_idx_data, r"expected 5,488 bytes of data for shape \(7, 28, 28\), got 5,388"),
        (_truncate_gzip, r"expected a complete gzip file.*(ended|end-of-stream)"),
        (_not_gzip, r"expected a gzip file.*(Not a gzipped file|magic)"),
        (_float_idx, r"expected an IDX file of unsigned bytes, got magic 00000d03"),
        (_label_count, r"expected the same length, got 7 and 6"),
    ],
)
def test_mnist_wrong_file_raises_clearly_and_keeps_the_cache(server, monkeypatch, isolated, corrupt, match):
    """A wrong file that still matches its (here: its own) checksum reaches the reader: it must say what it
    expected and what came, and the cache must hold exactly the downloaded files (nothing half-written)."""
    payloads, _ = _mnist_files()
    corrupt(payloads)
    _serve(server, monkeypatch, "mnist", payloads)
    with pytest.raises(ValueError, match=match) as info:
        ckd.digits("train", size=28, source="online")
    assert "idx" in str(info.value) or "length" in str(info.value)
    assert _snapshot(isolated) == {f"mnist/{name}": body for name, body in payloads.items()}


# ----------------------------------------------------------- truncated downloads of every downloadable reader
def _div2k_zip(folder: str, first: int, count: int, seed: int = 0) -> tuple[bytes, dict[str, np.ndarray]]:
    """A DIV2K zip as the real one: a directory entry ``<folder>/`` then ``<folder>/0001.png`` ... (8-bit RGB
    PNGs of their own sizes)."""
    rng = np.random.default_rng(seed)
    arrays = {}
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(zipfile.ZipInfo(f"{folder}/"), b"")
        for i in range(count):
            name = f"{first + i:04d}"
            array = rng.integers(0, 256, (24 + 2 * i, 36 - i, 3), dtype=np.uint8)
            png = io.BytesIO()
            Image.fromarray(array, "RGB").save(png, format="png")
            archive.writestr(f"{folder}/{name}.png", png.getvalue())
            arrays[name] = array
    return buffer.getvalue(), arrays


# torchvision models/vgg.py: cfgs["E"] (vgg19) and cfgs["D"] (vgg16), "M" = max-pool; the classifier is
# Linear(512 * 7 * 7, 4096), ReLU, Dropout, Linear(4096, 4096), ReLU, Dropout, Linear(4096, 1000).
VGG19_CFG = (
    64,
    64,
    "M",
    128,
    128,
    "M",
    256,
    256,
    256,
    256,
    "M",
    512,
    512,
    512,
    512,
    "M",
    512,
    512,
    512,
    512,
    "M",
)
VGG16_CFG = (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M")
VGG_CLASSIFIER = ((0, 25088, 4096), (3, 4096, 4096), (6, 4096, 1000))


def _vgg_shapes(cfg) -> dict[str, tuple[int, ...]]:
    """{state dict key: shape} of torchvision's vgg(cfg) (make_layers: conv + ReLU per number, one module per
    "M"), written out from torchvision's source rather than taken from coursekit."""
    shapes, index, channels = {}, 0, 3
    for item in cfg:
        if item == "M":
            index += 1
            continue
        shapes[f"features.{index}.weight"] = (item, channels, 3, 3)
        shapes[f"features.{index}.bias"] = (item,)
        index, channels = index + 2, item
    for index, fan_in, fan_out in VGG_CLASSIFIER:
        shapes[f"classifier.{index}.weight"] = (fan_out, fan_in)
        shapes[f"classifier.{index}.bias"] = (fan_out,)
    return shapes


@functools.lru_cache(maxsize=1)
def _vgg19_file() -> tuple[dict[str, torch.Tensor], bytes]:
    """torchvision's vgg19() state dict (features.0.weight ... classifier.6.bias, every tensor at its real
    shape) and its torch.save bytes. The 20M ``features`` values are random (80 MB, all read back); the
    124M-parameter classifier, which coursekit never loads, holds one value per output row broadcast over
    the row (a stride-0 view: torch.save keeps the view, so the file has the real keys and shapes in ~0.03 MB
    instead of 490 MB). Made once per test process."""
    generator = torch.Generator().manual_seed(0)
    state: dict[str, torch.Tensor] = {}
    for key, shape in _vgg_shapes(VGG19_CFG).items():
        if key.startswith("classifier.") and key.endswith(".weight"):
            state[key] = torch.randn(shape[0], 1, generator=generator).expand(shape)
        else:
            state[key] = torch.randn(shape, generator=generator)
    return state, _pth(state)


def _vgg19_state_dict() -> dict[str, torch.Tensor]:
    return dict(_vgg19_file()[0])


def _pth(state: dict[str, torch.Tensor]) -> bytes:
    buffer = io.BytesIO()
    torch.save(state, buffer)
    return buffer.getvalue()


def _truncated_download_case(name: str):
    if name == "mnist":
        return _mnist_files()[0], lambda: ckd.digits("train", source="auto"), "scikit-learn"
    if name == "div2k_valid_hr":
        return (
            {"DIV2K_valid_HR.zip": _div2k_zip("DIV2K_valid_HR", 801, 2)[0]},
            lambda: ckd.photos("test", source="auto"),
            "bundled",
        )
    small = {k: v for k, v in _vgg19_state_dict().items() if k.startswith("features.0.")}
    return {"vgg19-dcbb9e9d.pth": _pth(small)}, lambda: vgg.VGGFeatures("relu1_1", weights="auto"), "random"


@pytest.mark.parametrize("name", ["mnist", "div2k_valid_hr", "vgg19"])
def test_truncated_download_is_refused_and_auto_falls_back(server, monkeypatch, isolated, capsys, name):
    """The mirror serves the first half of the file: the checksum (of the whole file) catches it, nothing
    lands in the cache, and source='auto' falls back with a notice that says 'checksum mismatch'."""
    monkeypatch.setitem(registry._online_cache, "online", True)
    payloads, load, stand_in = _truncated_download_case(name)
    truncated = {filename: body[: len(body) // 2] for filename, body in payloads.items()}
    _serve(server, monkeypatch, name, truncated, checksums=payloads)
    with pytest.raises(DownloadError, match="expected") as info:
        registry.fetch(name)
    assert info.value.reason == "checksum mismatch"
    capsys.readouterr()
    result = load()
    out = capsys.readouterr().out
    assert "checksum mismatch" in out and "falling back" in out
    assert stand_in in (getattr(result, "source", None) or getattr(result, "weights", ""))
    assert _snapshot(isolated) == {}, "no file and no temp file may stay behind"


# --------------------------------------------------------------------------------------------------- DIV2K
def test_div2k_zips_downloaded_and_read_exactly(server, monkeypatch, capsys):
    train_zip, train = _div2k_zip("DIV2K_train_HR", 1, 3, seed=1)
    valid_zip, valid = _div2k_zip("DIV2K_valid_HR", 801, 2, seed=2)
    _serve(server, monkeypatch, "div2k_train_hr", {"DIV2K_train_HR.zip": train_zip})
    _serve(server, monkeypatch, "div2k_valid_hr", {"DIV2K_valid_HR.zip": valid_zip})
    for split, expected in (("train", train), ("test", valid), ("all", train | valid)):
        photos = ckd.photos(split, source="online")
        assert photos.names == list(expected) and f"{split} split ({len(expected)} images" in photos.source
        for got, array in zip(photos.images, expected.values(), strict=True):
            assert got.dtype == torch.float32 and got.shape == (3, *array.shape[:2])
            assert np.array_equal((got.permute(1, 2, 0).numpy() * 255).round().astype(np.uint8), array)
    capped = ckd.photos("all", source="online", max_images=4)
    assert capped.names == ["0001", "0002", "0003", "0801"], "train first, then validation, up to max_images"


def _div2k_truncated_zip():
    body = _div2k_zip("DIV2K_valid_HR", 801, 2)[0]
    return body[: len(body) - 30], r"DIV2K_valid_HR.zip: expected a zip archive of PNGs.*(not a zip|BadZip)"


def _div2k_jpegs():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        picture = io.BytesIO()
        Image.new("RGB", (8, 8)).save(picture, format="jpeg")
        archive.writestr("DIV2K_valid_HR/0801.jpg", picture.getvalue())
    return (
        buffer.getvalue(),
        r"expected PNG images in the DIV2K zip, found none \(1 member: DIV2K_valid_HR/0801.jpg",
    )


@pytest.mark.parametrize("make", [_div2k_truncated_zip, _div2k_jpegs])
def test_div2k_wrong_zip_raises_clearly_and_keeps_the_cache(server, monkeypatch, isolated, make):
    body, match = make()
    _serve(server, monkeypatch, "div2k_valid_hr", {"DIV2K_valid_HR.zip": body})
    with pytest.raises(ValueError, match=match):
        ckd.photos("test", source="online")
    assert _snapshot(isolated) == {"div2k_valid_hr/DIV2K_valid_HR.zip": body}


# -------------------------------------------------------------------------------------------------- CelebA
CELEBA_40 = (
    "5_o_Clock_Shadow Arched_Eyebrows Attractive Bags_Under_Eyes Bald Bangs Big_Lips Big_Nose Black_Hair "
    "Blond_Hair Blurry Brown_Hair Bushy_Eyebrows Chubby Double_Chin Eyeglasses Goatee Gray_Hair Heavy_Makeup "
    "High_Cheekbones Male Mouth_Slightly_Open Mustache Narrow_Eyes No_Beard Oval_Face Pale_Skin Pointy_Nose "
    "Receding_Hairline Rosy_Cheeks Sideburns Smiling Straight_Hair Wavy_Hair Wearing_Earrings Wearing_Hat "
    "Wearing_Lipstick Wearing_Necklace Wearing_Necktie Young"
).split()
# list_eval_partition.txt: 0 = train, 1 = validation, 2 = test (the real file: 000001-162770 train,
# 162771-182637 validation, 182638-202599 test); here 6 train, 3 validation, 3 test images.
CELEBA_PARTITIONS = (0,) * 6 + (1,) * 3 + (2,) * 3


def _celeba_files(newline: str = "\n", partitions=CELEBA_PARTITIONS):
    """The three CelebA files as published: img_align_celeba.zip (``img_align_celeba/000001.jpg`` ..., 178x218
    JPEGs), list_attr_celeba.txt (a count line, the 40 attribute names with a trailing space, then one row per
    image: the file name and 40 values -1 / 1, positive values padded to width 2) and list_eval_partition.txt
    (``000001.jpg 0`` lines). Returns (files, decoded pixels by name, attribute values (N, 40))."""
    rng = np.random.default_rng(3)
    n = len(partitions)
    names = [f"{i + 1:06d}.jpg" for i in range(n)]
    archive = io.BytesIO()
    pixels = {}
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr(zipfile.ZipInfo("img_align_celeba/"), b"")
        for name in names:
            array = np.repeat(rng.integers(0, 256, (218 // 2 + 1, 178 // 2, 3), dtype=np.uint8), 2, axis=1)[
                :218
            ]
            array = np.repeat(array, 2, axis=0)[:218]
            picture = io.BytesIO()
            Image.fromarray(array, "RGB").save(picture, format="jpeg", quality=95)
            z.writestr(f"img_align_celeba/{name}", picture.getvalue())
            pixels[name] = np.asarray(Image.open(io.BytesIO(picture.getvalue())).convert("RGB"))
    values = rng.choice([-1, 1], (n, len(CELEBA_40)))
    rows = [f"{name} " + " ".join(f"{v:2d}" for v in row) for name, row in zip(names, values, strict=True)]
    attr = newline.join([str(n), " ".join(CELEBA_40) + " ", *rows]) + newline
    partition = newline.join(f"{name} {p}" for name, p in zip(names, partitions, strict=True)) + newline
    files = {
        "img_align_celeba.zip": archive.getvalue(),
        "list_attr_celeba.txt": attr.encode(),
        "list_eval_partition.txt": partition.encode(),
    }
    return files, pixels, values


def _place_celeba(monkeypatch, isolated, files, checksums=None) -> None:
    """CelebA is a manual download: the student puts the files in <cache>/celeba/ by hand. The real entry
    keeps its filenames and md5 algorithm; only the digests are those of the test files (or ``checksums``)."""
    real = registry.entry("celeba")
    remote = tuple(
        dataclasses.replace(f, checksum=checksum_of("md5", (checksums or files)[f.filename]))
        for f in real.files
    )
    monkeypatch.setitem(registry.REGISTRY, "celeba", dataclasses.replace(real, files=remote))
    folder = isolated / "celeba"
    folder.mkdir(parents=True)
    for name, body in files.items():
        (folder / name).write_bytes(body)


def _expected_face(pixels: np.ndarray) -> np.ndarray:
    """The 178x218 picture centre-cropped to 178x178 (rows 20..197), as faces() does, in (3, H, W) [0, 1]."""
    return pixels[20:198].transpose(2, 0, 1).astype(np.float32) / 255


@pytest.mark.parametrize("newline", ["\n", "\r\n"])
def test_celeba_in_cache_read_exactly(monkeypatch, isolated, capsys, newline):
    files, pixels, values = _celeba_files(newline)
    _place_celeba(monkeypatch, isolated, files)
    data = ckd.faces(n=4, size=178, source="auto")
    assert data.images.shape == (4, 3, 178, 178) and "CelebA" in data.source
    for i in range(4):
        assert np.array_equal(data.images[i].numpy(), _expected_face(pixels[f"{i + 1:06d}.jpg"]))
    column = {name: j for j, name in enumerate(CELEBA_40)}
    from coursekit.data.faces import CELEBA_COLUMNS

    for k, attribute in enumerate(data.attribute_names):
        celeba, negate = CELEBA_COLUMNS[attribute]
        expected = (values[:4, column[celeba]] * (-1 if negate else 1) > 0).astype(np.float32)
        assert data.attributes[:, k].tolist() == expected.tolist(), attribute
    assert capsys.readouterr().out.startswith("data: faces <- CelebA")


def test_celeba_icgan_18_attributes_read_exactly(monkeypatch, isolated, capsys):
    from coursekit.data.faces import CELEBA_18

    files, pixels, values = _celeba_files()
    _place_celeba(monkeypatch, isolated, files)
    data = ckd.icgan_faces(n=3, size=178)
    assert data.attribute_names == tuple(c.lower() for c in CELEBA_18)
    expected = values[:3, [CELEBA_40.index(c) for c in CELEBA_18]] > 0
    assert data.attributes.numpy().astype(bool).tolist() == expected.tolist()
    assert np.array_equal(data.images[2].numpy(), _expected_face(pixels["000003.jpg"]))


def test_celeba_held_out_seed_never_shares_a_face_with_training(monkeypatch, isolated, capsys):
    """The lectures take training faces with seed 0 and held-out faces with seed 1 (02, 04, 08) and 2 (09):
    with CelebA in the cache these must be different images, from the official partition file."""
    files, pixels, _ = _celeba_files()
    _place_celeba(monkeypatch, isolated, files)
    by_seed = {seed: ckd.faces(n=3, size=178, seed=seed) for seed in (0, 1, 2)}
    first = {0: "000001.jpg", 1: "000010.jpg", 2: "000007.jpg"}  # train, test, validation partitions
    for seed, data in by_seed.items():
        assert np.array_equal(data.images[0].numpy(), _expected_face(pixels[first[seed]])), seed
    assert "train" in by_seed[0].source and "test" in by_seed[1].source and "valid" in by_seed[2].source
    icgan_test = ckd.icgan_faces(n=3, size=178, seed=1)
    assert np.array_equal(icgan_test.images.numpy(), by_seed[1].images.numpy())
    assert np.array_equal(
        ckd.faces(n=2, size=178, seed=3).images[0].numpy(), _expected_face(pixels["000003.jpg"])
    )
    with pytest.raises(
        ValueError, match=r"the validation partition holds 3 images; seed 5 with n=2 asks for its images 3-4"
    ):
        ckd.faces(n=2, size=178, seed=5)


def test_celeba_corrupt_file_in_cache_is_reported_and_kept(monkeypatch, isolated, capsys):
    """A hand-placed file that does not match its md5 (an interrupted browser download): 'auto' falls back and
    says which file is wrong; 'online' raises; the student's file is left where it is, unchanged."""
    files, _, _ = _celeba_files()
    placed = dict(files, **{"img_align_celeba.zip": files["img_align_celeba.zip"][:1000]})
    _place_celeba(monkeypatch, isolated, placed, checksums=files)
    data = ckd.faces(n=2, source="auto")
    out = capsys.readouterr().out
    assert "procedural" in data.source
    assert "img_align_celeba.zip" in out and "md5" in out and "not in" not in out, out
    with pytest.raises(
        DownloadError, match=r"img_align_celeba.zip.*expected md5:[0-9a-f]{32}, got md5 [0-9a-f]{32}"
    ):
        ckd.faces(n=2, source="online")
    assert _snapshot(isolated) == {f"celeba/{name}": body for name, body in placed.items()}


def _kaggle_csv(files):
    """Kaggle's re-publication: list_attr_celeba.csv content (a header line with image_id, commas)."""
    header = "image_id," + ",".join(CELEBA_40)
    rows = [f"{i + 1:06d}.jpg," + ",".join(["-1"] * 40) for i in range(len(CELEBA_PARTITIONS))]
    files["list_attr_celeba.txt"] = "\n".join([header, *rows]).encode()
    return r"list_attr_celeba.txt: expected the image count on line 1, got 'image_id,5_o_Clock_Shadow"


def _zero_one_values(files):
    text = files["list_attr_celeba.txt"].decode().replace("-1", " 0")
    files["list_attr_celeba.txt"] = text.encode()
    return r"list_attr_celeba.txt line 3: expected 40 values -1 or 1 after the file name, got .* 0"


def _missing_column(files):
    text = files["list_attr_celeba.txt"].decode().replace("Eyeglasses", "Glasses")
    files["list_attr_celeba.txt"] = text.encode()
    return r"list_attr_celeba.txt: expected the attribute names .*Eyeglasses.* on line 2"


def _flat_zip(files):
    buffer = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(files["img_align_celeba.zip"])) as src,
        zipfile.ZipFile(buffer, "w") as dst,
    ):
        for member in src.namelist():
            if member.endswith(".jpg"):
                dst.writestr(member.split("/")[-1], src.read(member))
    files["img_align_celeba.zip"] = buffer.getvalue()
    return r"img_align_celeba.zip: expected member img_align_celeba/000001.jpg, got members 000001.jpg"


def _truncated_zip(files):
    files["img_align_celeba.zip"] = files["img_align_celeba.zip"][:-50]
    return r"img_align_celeba.zip: expected a zip archive.*"


def _partition_mismatch(files):
    files["list_eval_partition.txt"] = b"000001.jpg 0\n000002.jpg 3\n"
    return r"list_eval_partition.txt line 2: expected '<image> 0\|1\|2', got '000002.jpg 3'"


@pytest.mark.parametrize(
    "corrupt",
    [_kaggle_csv, _zero_one_values, _missing_column, _flat_zip, _truncated_zip, _partition_mismatch],
)
def test_celeba_wrong_format_raises_clearly_and_keeps_the_files(monkeypatch, isolated, capsys, corrupt):
    """Files in another format that the student placed with matching md5s (the checksums here are the test
    files'): the reader names what it expected and what it found, and deletes nothing."""
    files, _, _ = _celeba_files()
    match = corrupt(files)
    _place_celeba(monkeypatch, isolated, files)
    with pytest.raises(ValueError, match=match):
        ckd.faces(n=2, size=32, source="auto")
    assert _snapshot(isolated) == {f"celeba/{name}": body for name, body in files.items()}


# -------------------------------------------------------------------------------------------- VGG19 (torch)
def test_vgg19_state_dict_has_torchvision_keys_and_shapes():
    state = _vgg19_state_dict()
    assert {k: tuple(v.shape) for k, v in state.items()} == _vgg_shapes(VGG19_CFG)
    assert list(state)[:3] == ["features.0.weight", "features.0.bias", "features.2.weight"]
    assert list(state)[-3:] == ["classifier.3.bias", "classifier.6.weight", "classifier.6.bias"]
    assert len(state) == 38 and sum(v.numel() for v in state.values()) == 143_667_240
    assert len(_pth({k: v for k, v in state.items() if k.startswith("classifier")})) < 100_000


def test_vgg19_pth_downloaded_and_loaded_exactly(server, monkeypatch, isolated, capsys):
    state, body = _vgg19_file()
    assert body[:2] == b"PK", "torch.save writes a zip archive, as torchvision's file is"
    _serve(server, monkeypatch, "vgg19", {"vgg19-dcbb9e9d.pth": body})
    assert registry.entry("vgg19").files[0].checksum.startswith("sha256-prefix:")
    extractor = vgg.VGGFeatures(("relu1_1", "relu5_4"), weights="imagenet")
    assert extractor.pretrained and "ImageNet weights from" in capsys.readouterr().out
    loaded = extractor.trunk.state_dict()
    assert len(loaded) == 32, "16 convolutions, weight and bias each"
    for key, value in loaded.items():
        assert torch.equal(value, state[f"features.{key}"]), key
    x = torch.rand(1, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    conv = torch.nn.functional.conv2d(
        extractor.normalize(x), state["features.0.weight"], state["features.0.bias"], padding=1
    )
    assert torch.allclose(extractor(x)["relu1_1"], conv.clamp_min(0), atol=1e-5)
    again = vgg.VGGFeatures("relu2_2", weights="auto")  # cached: no second download, no network probe
    assert again.pretrained and server.requests == ["/vgg19-dcbb9e9d.pth"]
    assert torch.equal(again.trunk[7].weight, state["features.7.weight"])
    assert _snapshot(isolated) == {"vgg19/vgg19-dcbb9e9d.pth": body}


def _vgg_truncated():
    body = _vgg19_file()[1]
    return body[
        : len(body) // 3
    ], r"expected a torch.save file \(torchvision's VGG19 state dict, vgg19-dcbb9e9d.pth\).*central directory"


def _vgg_pickle():
    import pickle

    return pickle.dumps({"features.0.weight": np.zeros(3)}), r"expected a torch.save file"


def _vgg16():
    state = {k: torch.zeros(1).expand(shape) for k, shape in _vgg_shapes(VGG16_CFG).items()}
    return _pth(state), r"expected torchvision's features.\* keys, missing \['features.16.weight'"


def _wrong_shape():
    state = _vgg19_state_dict()
    state["features.10.weight"] = state["features.10.weight"][:, :64].contiguous()
    return _pth(state), r"features.10.weight: expected shape \(256, 128, 3, 3\), got \(256, 64, 3, 3\)"


@pytest.mark.filterwarnings("ignore:Detected pickle protocol:UserWarning")
@pytest.mark.parametrize("make", [_vgg_truncated, _vgg_pickle, _vgg16, _wrong_shape])
def test_vgg19_wrong_pth_raises_clearly_and_keeps_the_cache(server, monkeypatch, isolated, capsys, make):
    body, match = make()
    _serve(server, monkeypatch, "vgg19", {"vgg19-dcbb9e9d.pth": body})
    with pytest.raises(ValueError, match=match) as info:
        vgg.VGGFeatures("relu5_4", weights="imagenet")
    assert "vgg19-dcbb9e9d.pth" in str(info.value)
    assert _snapshot(isolated) == {"vgg19/vgg19-dcbb9e9d.pth": body}
