"""coursekit.nn.vgg: torchvision layout, layer names, truncation, freezing, weights policy, bad input."""

import pytest
import torch

from coursekit.nn import count_parameters as count
from coursekit.nn import vgg


def test_trunk_matches_torchvision_layout_and_parameter_count():
    trunk = vgg.build_trunk()
    assert len(trunk) == 37
    # VGG19 has 143,667,240 parameters, 123,642,856 of them in the classifier: 20,024,384 in `features`.
    assert count(trunk) == 20_024_384
    tv_vgg = pytest.importorskip("torchvision.models.vgg")
    assert list(vgg.CONFIG) == tv_vgg.cfgs["E"]
    reference = tv_vgg.make_layers(tv_vgg.cfgs["E"])  # vgg19().features without the 123M-parameter head
    assert list(trunk.state_dict()) == list(reference.state_dict())
    assert [tuple(v.shape) for v in trunk.state_dict().values()] == [
        tuple(v.shape) for v in reference.state_dict().values()
    ]


def test_layer_names_follow_the_paper():
    assert vgg.LAYERS["conv1_1"] == 0 and vgg.LAYERS["relu1_1"] == 1
    assert vgg.LAYERS["relu2_2"] == 8 and vgg.LAYERS["pool2"] == 9
    assert vgg.LAYERS["conv5_4"] == 34 and vgg.LAYERS["relu5_4"] == 35 and vgg.LAYERS["pool5"] == 36
    trunk = vgg.build_trunk()
    for name, index in vgg.LAYERS.items():
        kind = {"conv": torch.nn.Conv2d, "relu": torch.nn.ReLU, "pool": torch.nn.MaxPool2d}[name[:4]]
        assert isinstance(trunk[index], kind), name


def test_features_shapes_truncation_and_pre_activation(capsys):
    extractor = vgg.VGGFeatures(("conv2_2", "relu2_2", "conv5_4", "relu5_4"), weights="random", seed=0)
    assert not extractor.pretrained and extractor.weights == "random"
    assert "RANDOM WEIGHTS" not in capsys.readouterr().out  # 'random' asked for: no notice
    assert len(extractor.trunk) == 36  # truncated after relu5_4, no pool5
    x = torch.rand(2, 3, 32, 48, generator=torch.Generator().manual_seed(0))
    feats = extractor(x)
    assert set(feats) == {"conv2_2", "relu2_2", "conv5_4", "relu5_4"}
    assert feats["relu2_2"].shape == (2, 128, 16, 24)
    assert feats["relu5_4"].shape == (2, 512, 2, 3)
    assert feats["conv5_4"].min() < 0, "conv5_4 is taken before the ReLU"
    assert torch.equal(feats["relu5_4"], feats["conv5_4"].clamp_min(0))
    assert torch.equal(feats["relu2_2"], feats["conv2_2"].clamp_min(0))
    assert feats["relu5_4"].std() > 1e-3, "He init keeps deep random features alive"
    shallow = vgg.VGGFeatures(("relu2_2",), weights="random")
    assert len(shallow.trunk) == 9
    assert torch.allclose(shallow(x)["relu2_2"], feats["relu2_2"])  # same seed -> same weights


def test_frozen_eval_but_differentiable_wrt_input():
    extractor = vgg.VGGFeatures("relu2_2", weights="random")
    assert all(not p.requires_grad for p in extractor.parameters())
    parent = torch.nn.Sequential(extractor)
    parent.train()
    assert not extractor.training
    x = torch.rand(1, 3, 16, 16, requires_grad=True)
    extractor(x)["relu2_2"].sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0


def test_imagenet_normalisation_inside():
    extractor = vgg.VGGFeatures("conv1_1", weights="random")
    x = torch.rand(1, 3, 8, 8)
    mean = torch.tensor(vgg.IMAGENET_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(vgg.IMAGENET_STD).view(1, 3, 1, 1)
    conv = extractor.trunk[0]
    assert torch.allclose(extractor(x)["conv1_1"], conv((x - mean) / std), atol=1e-6)


def test_auto_offline_falls_back_loudly(monkeypatch, capsys, tmp_path):
    monkeypatch.setenv("COURSEKIT_OFFLINE", "1")
    monkeypatch.setenv("COURSEKIT_CACHE", str(tmp_path))
    extractor = vgg.VGGFeatures(weights="auto")
    out = capsys.readouterr().out
    assert "RANDOM WEIGHTS" in out and "offline" in out
    assert not extractor.pretrained
    with pytest.raises(Exception, match="offline|OFFLINE"):
        vgg.VGGFeatures(weights="imagenet")


def test_cached_imagenet_file_is_loaded(tmp_path):
    trunk = vgg.build_trunk()
    vgg.random_init(trunk, seed=5)
    path = tmp_path / "vgg19.pth"
    torch.save(
        {f"features.{k}": v for k, v in trunk.state_dict().items()} | {"classifier.0.bias": torch.zeros(4)},
        path,
    )
    short = vgg.build_trunk(9)
    vgg.load_imagenet(short, path)
    assert torch.equal(short[7].weight, trunk[7].weight)
    with pytest.raises(ValueError, match="features"):
        torch.save({"something": torch.zeros(1)}, path)
        vgg.load_imagenet(short, path)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (dict(layers=("relu5_5",)), "relu5_4"),
        (dict(layers=()), "at least one"),
        (dict(weights="imagnet"), "imagenet"),
    ],
)
def test_bad_arguments_raise(kwargs, match):
    with pytest.raises(ValueError, match=match):
        vgg.VGGFeatures(**({"weights": "random"} | kwargs))


def test_bad_input_names_expected_and_actual():
    extractor = vgg.VGGFeatures("relu1_1", weights="random")
    with pytest.raises(ValueError, match=r"3 channels, got 1"):
        extractor(torch.rand(1, 1, 8, 8))
    with pytest.raises(ValueError, match=r"4-D"):
        extractor(torch.rand(3, 8, 8))
