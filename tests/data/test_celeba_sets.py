"""With CelebA in the cache, the face sets of modules 06 and 10 are disjoint and exist: faces(seed=s) reads
partition s % 3 of CelebA (0 train, 1 test, 2 validation) and block s // 3 of it, so the procedural seeds
those modules use (10,008, 10,000, ...) would ask for blocks far beyond the partitions' ends."""

import hashlib
import io
import zipfile

import pytest
import torch
from PIL import Image

from coursekit.data import old_photos, real_lr, registry
from coursekit.data.registry import Entry, RemoteFile

PARTITIONS = [0] * 40 + [1] * 8 + [2] * 8  # 40 train, 8 validation, 8 test images


@pytest.fixture
def celeba(isolated, monkeypatch):
    """A tiny CelebA in a private cache: image i is a flat colour with red 4 i, green 100, blue 200."""
    names = [f"{i + 1:06d}.jpg" for i in range(len(PARTITIONS))]
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as z:
        for i, name in enumerate(names):
            picture = io.BytesIO()
            Image.new("RGB", (178, 218), (4 * i, 100, 200)).save(picture, format="JPEG", quality=95)
            z.writestr(f"img_align_celeba/{name}", picture.getvalue())
    columns = ["5_o_Clock_Shadow", "Bangs", "Black_Hair", "Eyeglasses", "Male", "No_Beard", "Smiling",
               "Wearing_Hat"]
    rows = [f"{name} " + " ".join("1" if (i + j) % 2 else "-1" for j in range(len(columns)))
            for i, name in enumerate(names)]
    partition_lines = (f"{a} {p}" for a, p in zip(names, PARTITIONS, strict=True))
    files = {
        "img_align_celeba.zip": archive.getvalue(),
        "list_attr_celeba.txt": "\n".join([str(len(names)), " ".join(columns), *rows]).encode(),
        "list_eval_partition.txt": "\n".join(partition_lines).encode(),
    }
    folder = isolated / "celeba"
    folder.mkdir(parents=True)
    for name, body in files.items():
        (folder / name).write_bytes(body)
    entry = registry.entry("celeba")
    remote = tuple(RemoteFile(n, (), "md5:" + hashlib.md5(b).hexdigest()) for n, b in files.items())
    monkeypatch.setitem(registry.REGISTRY, "celeba", Entry(**{**entry.__dict__, "files": remote}))
    assert registry.cached("celeba")


def celeba_ids(images: torch.Tensor) -> set[int]:
    """The fake CelebA images in a batch, by their red level (lfw_subset's grey faces are left out)."""
    means = images.mean(dim=(2, 3))
    return {round(float(m[0]) * 255 / 4) for m in means if abs(float(m[1]) - 100 / 255) < 0.03 and m[2] > 0.7}


def test_learned_degradation_sets_are_disjoint_celeba_faces(celeba, monkeypatch):
    monkeypatch.setattr(real_lr, "CELEBA_HR_SLOT", 8)  # the fake train partition has 40 images, not 162,770
    train = celeba_ids(real_lr.hr_faces(8, seed=0))  # the lecture's HR training faces, then its reference
    reference = celeba_ids(real_lr.hr_faces(8, seed=3))
    real = celeba_ids(real_lr.real_lr_faces(8, seed=1).hr)
    real_test = celeba_ids(real_lr.real_lr_faces(8, seed=2).hr)
    assert [len(s) for s in (train, reference, real, real_test)] == [6, 6, 6, 6]
    assert train | reference <= set(range(40))  # CelebA's train partition
    assert real == set(range(48, 54)) and real_test == set(range(40, 46))  # test, validation partitions
    assert not train & reference


def test_old_photo_faces_come_from_celeba_train_and_test(celeba):
    train = celeba_ids(old_photos.clean_images(4, 16, "train", seed=0, source="faces"))
    test = celeba_ids(old_photos.clean_images(4, 16, "test", seed=0, source="faces"))
    assert train == {0, 1, 2, 3} and test == {48, 49, 50, 51}
