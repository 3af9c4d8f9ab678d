"""The datasets: shapes, ranges, determinism, the factor grid, visible attributes and bad input."""

from __future__ import annotations

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from torch.utils.data import DataLoader

import coursekit.data as ckd
from coursekit.data import registry
from coursekit.data.faces import ATTRIBUTE_NAMES, CELEBA_18, render_faces, sample_face_params
from coursekit.data.photos import TEST_PHOTOS, TRAIN_PHOTOS, downsample
from coursekit.data.shapes2d import factors as shape_factors
from coursekit.data.shapes2d import index_of, render

FAST = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.fixture(autouse=True)
def offline(monkeypatch, tmp_path):
    """Every test here runs offline with an empty cache: the stand-ins are what is tested."""
    monkeypatch.setenv(registry.ENV_CACHE, str(tmp_path))
    monkeypatch.setenv(registry.ENV_OFFLINE, "1")


# ---------------------------------------------------------------- digits
def test_digits_offline_shapes_range_split():
    train, test = ckd.digits("train", size=28), ckd.digits("test", size=16)
    assert train.images.shape[1:] == (1, 28, 28) and test.images.shape[1:] == (1, 16, 16)
    assert len(train) + len(test) == 1797 and 0.18 < len(test) / 1797 < 0.22
    assert train.images.dtype == torch.float32 and train.labels.dtype == torch.int64
    assert train.images.min() >= 0 and train.images.max() <= 1 and train.images.max() > 0.9
    assert set(test.labels.tolist()) == set(range(10)), "the split is stratified: every digit is in test"
    image, label = train[3]
    assert image.shape == (1, 28, 28) and int(label) == int(train.labels[3])
    assert torch.equal(ckd.digits("train").images, train.images), "deterministic"


@FAST
@given(split=st.text(max_size=8).filter(lambda s: s not in ("train", "test")))
def test_digits_bad_split(split):
    with pytest.raises(ValueError, match="split"):
        ckd.digits(split)


@pytest.mark.parametrize(
    "kwargs, error, match",
    [({"size": 0}, ValueError, "size"), ({"size": 2.5}, TypeError, "size"),
     ({"source": "web"}, ValueError, "source")],
)
def test_digits_bad_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        ckd.digits(**kwargs)


# ---------------------------------------------------------------- shapes2d
def test_shapes2d_grid_and_dataset():
    data = ckd.shapes2d()
    assert len(data) == 737_280 == 3 * 6 * 40 * 32 * 32
    assert data.factor_names == ("shape", "scale", "orientation", "pos_x", "pos_y")
    assert data.factor_sizes == (3, 6, 40, 32, 32)
    assert data.factors(1).tolist() == [[0, 0, 0, 0, 1]]
    assert data.factors(32).tolist() == [[0, 0, 0, 1, 0]]
    assert data.factors(len(data) - 1).tolist() == [[2, 5, 39, 31, 31]]
    image, factors = data[123_456]
    assert image.shape == (1, 64, 64) and image.dtype == torch.float32
    assert torch.equal(factors, data.factors(123_456)[0])
    assert set(image.unique().tolist()) <= {0.0, 1.0} and image.sum() > 0


@FAST
@given(index=st.integers(0, 737_279))
def test_shapes2d_factor_round_trip(index):
    assert int(index_of(shape_factors(index))[0]) == index


def _centroid(image: torch.Tensor) -> tuple[float, float]:
    rows, cols = image[0].nonzero(as_tuple=True)
    return float(cols.float().mean()), float(rows.float().mean())


def test_shapes2d_rendering_follows_factors():
    small, large = render([[2, 0, 0, 16, 16], [2, 5, 0, 16, 16]])
    assert large.sum() > 2.5 * small.sum(), "scale 1 covers about (1/0.5)^2 = 4x the pixels of scale 0.5"
    left, right = render([[0, 3, 0, 2, 16], [0, 3, 0, 29, 16]])
    assert _centroid(right)[0] > _centroid(left)[0] + 25, "pos_x moves the shape right"
    low, high = render([[1, 3, 0, 16, 2], [1, 3, 0, 16, 29]])
    assert _centroid(high)[1] < _centroid(low)[1] - 25, "pos_y moves the shape up (row 0 is the top)"
    square, ellipse, heart = render([[k, 5, 0, 16, 16] for k in range(3)])
    assert (
        not torch.equal(square, ellipse)
        and not torch.equal(square, heart)
        and not torch.equal(ellipse, heart)
    )
    upright, turned, quarter = render([[2, 5, 0, 16, 16], [2, 5, 20, 16, 16], [0, 5, 10, 16, 16]])
    assert (upright != turned).float().mean() > 0.02, "half a turn visibly changes the heart"
    assert (square != quarter).float().mean() < 0.005, "a quarter turn leaves the square (nearly) unchanged"


def test_shapes2d_sample_and_dataloader():
    data = ckd.shapes2d()
    images, factors = data.sample(16, seed=3)
    again, _ = data.sample(16, seed=3)
    other, _ = data.sample(16, seed=4)
    assert images.shape == (16, 1, 64, 64) and factors.shape == (16, 5) and factors.dtype == torch.int64
    assert torch.equal(images, again) and not torch.equal(images, other)
    assert torch.equal(images, data.render(factors))
    loader = DataLoader(data, batch_size=8, sampler=range(1000, 1016))
    batch_images, batch_factors = next(iter(loader))
    assert batch_images.shape == (8, 1, 64, 64)
    assert torch.equal(batch_factors, data.factors(torch.arange(1000, 1008)))
    assert torch.equal(batch_images, data.render(batch_factors))


@pytest.mark.parametrize(
    "bad, match",
    [
        ([[3, 0, 0, 0, 0]], "shape must be in"),
        ([[0, 6, 0, 0, 0]], "scale"),
        ([[0, 0, 0, 0]], "5 columns"),
        ([[0.5, 0, 0, 0, 0]], "integers"),
    ],
)
def test_shapes2d_bad_factors(bad, match):
    with pytest.raises(ValueError, match=match):
        render(bad)


@pytest.mark.parametrize("bad", [-1, 737_280])
def test_shapes2d_bad_index(bad):
    with pytest.raises(ValueError, match="737279"):
        shape_factors(bad)


# ---------------------------------------------------------------- faces
def test_faces_shapes_range_determinism():
    data = ckd.faces(n=64, seed=1)
    assert data.images.shape == (64, 3, 64, 64) and data.images.dtype == torch.float32
    assert data.attributes.shape == (64, 7) and set(data.attributes.unique().tolist()) == {0.0, 1.0}
    assert data.attribute_names == ATTRIBUTE_NAMES and len(data.attribute_names) == 7
    assert data.images.min() >= 0 and data.images.max() <= 1
    assert torch.equal(ckd.faces(n=64, seed=1).images, data.images)
    assert not torch.equal(ckd.faces(n=64, seed=2).images, data.images)
    assert ckd.faces(n=4, size=32).images.shape == (4, 3, 32, 32)
    image, attributes = data[5]
    assert image.shape == (3, 64, 64) and torch.equal(attributes, data.attributes[5])


def test_face_attributes_balanced_and_independent():
    attributes = sample_face_params(4000, seed=0)["attributes"]
    assert ((attributes.mean(0) - 0.5).abs() < 0.04).all()
    correlation = torch.corrcoef(attributes.T) - torch.eye(attributes.shape[1])
    assert correlation.abs().max() < 0.06


# where each attribute must show: rows, cols of a box in the 64x64 image (face centred, jitter <= 8%)
ATTRIBUTE_REGIONS = {
    "smiling": (slice(38, 54), slice(20, 44)),
    "eyeglasses": (slice(22, 38), slice(8, 56)),
    "dark_hair": (slice(0, 64), slice(0, 64)),
    "bangs": (slice(8, 30), slice(14, 50)),
    "hat": (slice(0, 30), slice(0, 64)),
    "beard": (slice(36, 60), slice(14, 50)),
    "male": (slice(0, 64), slice(0, 64)),
}


@pytest.mark.parametrize("name", ATTRIBUTE_NAMES)
def test_each_attribute_changes_its_region(name):
    k = ATTRIBUTE_NAMES.index(name)
    params = sample_face_params(32, seed=5)
    params["attributes"][:, k] = 0
    off = render_faces(params)
    params["attributes"][:, k] = 1
    on = render_faces(params)
    changed = (on - off).abs().amax(dim=1) > 0.05  # (n, 64, 64)
    assert changed.flatten(1).any(dim=1).all(), f"toggling {name} must change every face"
    rows, cols = ATTRIBUTE_REGIONS[name]
    inside = changed[:, rows, cols].sum()
    assert inside >= 0.9 * changed.sum(), f"{name} changed pixels outside its region"


@pytest.mark.parametrize("loader", [ckd.faces, ckd.icgan_faces])
@pytest.mark.parametrize(
    "kwargs, match", [({"n": 0}, "n"), ({"size": 8}, "size"), ({"source": "celeb"}, "source")]
)
def test_faces_bad_arguments(loader, kwargs, match):
    with pytest.raises(ValueError, match=match):
        loader(**kwargs)


def test_icgan_faces_offline_are_the_procedural_faces():
    """Without CelebA the IcGAN's faces are faces() itself (7 attributes); CelebA would give the 18 of
    Perarnau et al. 2016 (tests/data/test_formats.py reads them from a CelebA stand-in)."""
    offline = ckd.icgan_faces(n=8, size=16, seed=3, source="offline")
    assert torch.equal(offline.images, ckd.faces(n=8, size=16, seed=3).images)
    assert offline.attribute_names == ATTRIBUTE_NAMES and offline.attributes.shape == (8, 7)
    assert len(CELEBA_18) == 18 and "Wearing_Hat" in CELEBA_18


def test_lfw_faces():
    gray = ckd.lfw_faces(size=32, channels=1)
    colour = ckd.lfw_faces(size=64)
    assert gray.images.shape == (100, 1, 32, 32) and colour.images.shape == (100, 3, 64, 64)
    assert torch.equal(colour.images[:, 0], colour.images[:, 2])
    assert gray.images.min() >= 0 and gray.images.max() <= 1 and gray.attributes.shape == (100, 0)
    with pytest.raises(ValueError, match="channels"):
        ckd.lfw_faces(channels=2)


# ---------------------------------------------------------------- photos
def test_photo_split_by_image():
    train, test = ckd.photos("train"), ckd.photos("test")
    assert set(train.names).isdisjoint(test.names)
    assert tuple(train.names) == TRAIN_PHOTOS and tuple(test.names) == TEST_PHOTOS
    for image in train.images + test.images:
        assert image.ndim == 3 and image.shape[0] == 3 and image.dtype == torch.float32
        assert image.min() >= 0 and image.max() <= 1
    for a in train.images:
        assert not any(a.shape == b.shape and torch.equal(a, b) for b in test.images)
    assert len(ckd.photos("all")) == len(train) + len(test)
    assert ckd.textures().by_name("brick").shape == (3, 512, 512)


def test_random_patches_and_lr_hr_pairs():
    pool = ckd.photos("test")
    patches = ckd.random_patches(pool, 10, 48, seed=1)
    assert patches.shape == (10, 3, 48, 48)
    assert torch.equal(patches, ckd.random_patches(pool.images, 10, 48, seed=1))
    assert not torch.equal(patches, ckd.random_patches(pool, 10, 48, seed=2))
    lr, hr = ckd.lr_hr_pairs(pool, 6, hr_size=64, scale=4, seed=0)
    assert hr.shape == (6, 3, 64, 64) and lr.shape == (6, 3, 16, 16)
    assert torch.allclose(lr, downsample(hr, 4)) and lr.min() >= 0 and lr.max() <= 1
    assert torch.allclose(lr.mean(), hr.mean(), atol=0.02), "a downsample keeps the mean brightness"


@FAST
@given(size=st.integers(301, 2000))
def test_random_patches_larger_than_image(size):
    with pytest.raises(ValueError, match=f"at least {size}x{size}.*300x451"):
        ckd.random_patches([ckd.photos("test").by_name("chelsea")], 1, size)


@FAST
@given(hr_size=st.integers(8, 200), scale=st.integers(2, 8))
def test_lr_hr_size_must_divide(hr_size, scale):
    image = torch.rand(1, 3, 200, 200)
    if hr_size % scale:
        with pytest.raises(ValueError, match="multiple of scale"):
            ckd.lr_hr_pairs(image, 1, hr_size, scale)
    else:
        lr, hr = ckd.lr_hr_pairs(image, 1, hr_size, scale)
        assert lr.shape[-1] * scale == hr.shape[-1] == hr_size


def test_patch_input_checked():
    with pytest.raises(ValueError, match="values in"):
        ckd.random_patches(torch.full((1, 3, 64, 64), 2.0), 1, 8)
    with pytest.raises(ValueError, match="non-empty list"):
        ckd.random_patches([], 1, 8)
    with pytest.raises(ValueError, match="split"):
        ckd.photos("validation")


# ---------------------------------------------------------------- voxels
def test_voxels_shapes_values_determinism():
    data = ckd.voxels(24, resolution=32, seed=0)
    assert data.images.shape == (24, 1, 32, 32, 32) and data.images.dtype == torch.float32
    assert set(data.images.unique().tolist()) == {0.0, 1.0}
    assert data.labels.dtype == torch.int64 and data.labels.max() < len(data.class_names) == 6
    occupancy = data.images.mean(dim=(1, 2, 3, 4))
    assert (occupancy > 0.005).all() and (occupancy < 0.7).all()
    assert torch.equal(ckd.voxels(24, 32, seed=0).images, data.images)
    assert not torch.equal(ckd.voxels(24, 32, seed=1).images, data.images)
    assert ckd.voxels(2, resolution=64).images.shape == (2, 1, 64, 64, 64)


def test_voxel_classes_have_their_shape():
    tables = ckd.voxels(8, 32, seed=0, classes=["table"]).images[:, 0]
    layers = tables.sum(dim=(1, 2))  # voxels per height z (axis 2 after dropping the channel is z)
    assert (layers.amax(dim=1) > 4 * layers[:, :4].mean(dim=1)).all(), (
        "a table top is much wider than its legs"
    )
    spheres = ckd.voxels(8, 32, seed=0, classes=["sphere"]).images[:, 0]
    volume = spheres.mean(dim=(1, 2, 3))
    assert (
        (volume > 4 / 3 * torch.pi * 0.45**3 / 8 * 0.8) & (volume < 4 / 3 * torch.pi * 0.85**3 / 8 * 1.2)
    ).all()


@pytest.mark.parametrize(
    "kwargs, match",
    [({"resolution": 48}, "resolution"), ({"classes": ["chair", "sofa"]}, "classes"), ({"n": -2}, "n")],
)
def test_voxels_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        ckd.voxels(**kwargs)


# ---------------------------------------------------------------- dispatcher
def test_load_dispatches_and_rejects_unknown_names():
    assert ckd.load("voxels", n=2).images.shape == (2, 1, 32, 32, 32)
    assert len(ckd.load("shapes2d")) == 737_280
    with pytest.raises(ValueError, match="did you mean 'faces'"):
        ckd.load("face")
