"""VGG19's convolutional trunk as a frozen feature extractor (Simonyan & Zisserman 2015), torchvision layout.

Perceptual losses compare images in the feature space of an ImageNet classifier instead of pixel space:
SRGAN's content loss (Ledig et al. 2017, eq. 5: phi_5,4 and phi_2,2), ESRGAN's perceptual loss (conv5_4 before
the ReLU), style transfer's Gram matrices. This module builds VGG19's ``features`` exactly as torchvision does
(the same ``nn.Sequential`` indices, so torchvision's ``vgg19-dcbb9e9d.pth`` loads into it), truncated after
the deepest layer asked for, frozen and in eval mode.

Layer names follow the papers: ``convI_J`` is the J-th convolution of block I BEFORE its ReLU, ``reluI_J`` the
same map after the ReLU (SRGAN's phi_i,j), ``poolI`` the max-pool closing block I.

>>> vgg = VGGFeatures(("relu2_2", "relu5_4"), weights="random")
>>> feats = vgg(torch.rand(1, 3, 64, 64))       # {'relu2_2': (1, 128, 32, 32), 'relu5_4': (1, 512, 4, 4)}

Weights: ``"auto"`` uses the ImageNet weights of registry entry ``vgg19`` when cached or reachable, and
otherwise seeded random (He-normal) weights with a loud notice; ``"imagenet"`` fails if the weights cannot be
had; ``"random"`` never touches the network. ``.pretrained`` says which one you got.
"""

from __future__ import annotations

import torch
from torch import nn

from ..errors import expect_choice, expect_tensor, loud_notice

WEIGHTS = ("auto", "imagenet", "random")
# torchvision's cfgs["E"]: output channels of each conv, "M" = 2x2 max-pool.
CONFIG = (64, 64, "M") + (128, 128, "M") + (256,) * 4 + ("M",) + (512,) * 4 + ("M",) + (512,) * 4 + ("M",)
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def _layer_names() -> dict[str, int]:
    """{name: index in torchvision's vgg19().features}: conv1_1 -> 0, relu1_1 -> 1, ..., relu5_4 -> 35."""
    names, index, block, conv = {}, 0, 1, 1
    for item in CONFIG:
        if item == "M":
            names[f"pool{block}"] = index
            index, block, conv = index + 1, block + 1, 1
        else:
            names[f"conv{block}_{conv}"] = index
            names[f"relu{block}_{conv}"] = index + 1
            index, conv = index + 2, conv + 1
    return names


LAYERS = _layer_names()


def build_trunk(depth: int | None = None) -> nn.Sequential:
    """VGG19's ``features`` (torchvision indices), keeping modules 0 .. depth - 1 (all 37 when None).

    ReLUs are not in-place, so a pre-activation map (``conv5_4``) kept for a loss is not overwritten.
    """
    layers: list[nn.Module] = []
    channels = 3
    for item in CONFIG:
        if isinstance(item, str):  # "M"
            layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
        else:
            layers += [nn.Conv2d(channels, item, kernel_size=3, padding=1), nn.ReLU(inplace=False)]
            channels = item
    return nn.Sequential(*layers[: len(layers) if depth is None else depth])


def random_init(trunk: nn.Module, seed: int = 0) -> None:
    """Seeded He-normal kernels (std sqrt(2 / fan_in)) and zero biases: activations keep their scale through
    16 ReLU convolutions, so random features neither vanish nor explode. Deterministic in ``seed``."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for module in trunk.modules():
            if isinstance(module, nn.Conv2d):
                fan_in = module.in_channels * module.kernel_size[0] * module.kernel_size[1]
                weight = torch.randn(module.weight.shape, generator=generator) * (2.0 / fan_in) ** 0.5
                module.weight.copy_(weight)
                if module.bias is not None:
                    module.bias.zero_()


def imagenet_weights_path(weights: str = "auto"):
    """Path of torchvision's VGG19 ImageNet weights (cached or downloaded), or None when unavailable.

    ``weights="imagenet"`` fetches and lets a failure propagate; ``"auto"`` returns None after the data
    layer's one-line notice (offline forced, network unreachable, checksum mismatch).
    """
    from ..data.download import resolve
    from ..data.registry import entry

    folder = resolve("vgg19", "online" if weights == "imagenet" else "auto", dataset="VGG19 ImageNet weights")
    return None if folder is None else folder / entry("vgg19").files[0].filename


def load_imagenet(trunk: nn.Sequential, path) -> None:
    """Copy torchvision's ``features.N.*`` tensors into the (possibly truncated) trunk.

    A file that torch.load cannot read (cut short, not a torch.save file), or a state dict without VGG19's
    ``features.*`` keys or with other shapes, raises a ValueError naming what was expected and what came.
    """
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # a truncated zip, a plain pickle, a TorchScript archive, ...
        first = str(error).splitlines()[0] if str(error) else ""
        raise ValueError(
            f"VGG19 weights {path}: expected a torch.save file (torchvision's VGG19 state dict, "
            f"vgg19-dcbb9e9d.pth), got one torch.load cannot read ({type(error).__name__}: {first[:200]})"
        ) from error
    if not isinstance(state, dict):
        raise TypeError(f"VGG19 weights {path}: expected a state dict, got {type(state).__name__}")
    own = trunk.state_dict()
    picked = {key[len("features.") :]: value for key, value in state.items() if key.startswith("features.")}
    missing = [f"features.{key}" for key in own if key not in picked]
    if missing:
        raise ValueError(
            f"VGG19 weights {path}: expected torchvision's features.* keys, missing {missing[:3]}"
        )
    for key, value in own.items():
        got = getattr(picked[key], "shape", None)
        if got != value.shape:
            shown = tuple(got) if got is not None else type(picked[key]).__name__
            raise ValueError(
                f"VGG19 weights {path}: features.{key}: expected shape {tuple(value.shape)}, got {shown}"
            )
    trunk.load_state_dict({key: picked[key] for key in own})


class VGGFeatures(nn.Module):
    """torchvision-layout VGG19 'features' trunk, truncated after the deepest requested layer, frozen, eval.

    ``layers``: names from :data:`LAYERS` (conv1_1 ... conv5_4 before ReLU, relu1_1 ... relu5_4 after,
    pool1 ... pool5). ``weights``: 'auto' | 'imagenet' | 'random' (see the module docstring); ``seed`` seeds
    the random weights. ``forward(x)`` takes (B, 3, H, W) RGB in [0, 1], normalises it with the ImageNet
    mean / std inside, and returns ``{layer name: feature map}``.
    """

    mean: torch.Tensor  # buffers (1, 3, 1, 1)
    std: torch.Tensor

    def __init__(self, layers=("relu5_4",), weights: str = "auto", seed: int = 0):
        super().__init__()
        if isinstance(layers, str):
            layers = (layers,)
        layers = tuple(layers)
        if not layers:
            raise ValueError("layers: expected at least one VGG19 layer name such as 'relu5_4', got none")
        for name in layers:
            expect_choice("VGG19 layer", name, list(LAYERS))
        expect_choice("VGG19 weights", weights, WEIGHTS)
        self.layers = layers
        self._indices = {LAYERS[name]: name for name in layers}
        self.trunk = build_trunk(max(self._indices) + 1)
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1))
        path = None if weights == "random" else imagenet_weights_path(weights)
        if path is not None:
            load_imagenet(self.trunk, path)
            self.weights = "imagenet"
            print(f"VGG19: ImageNet weights from {path} (layers {', '.join(layers)})")
        else:
            random_init(self.trunk, seed)
            self.weights = "random"
            if weights == "auto":
                loud_notice(
                    [
                        "VGG19 HAS RANDOM WEIGHTS: the ImageNet weights are not available (offline).",
                        "Perceptual / content losses compare random (He-normal, seeded) features, not",
                        "what ImageNet taught; results differ from the papers'. Online, weights='auto'",
                        "downloads torchvision's vgg19-dcbb9e9d.pth (548 MB) into the coursekit cache.",
                    ]
                )
        self.pretrained = self.weights == "imagenet"
        self.requires_grad_(False)
        super().train(False)

    def train(self, mode: bool = True):
        """Always stays in eval mode: the extractor is frozen (calling .train() on a parent model is safe)."""
        return super().train(False)

    def normalize(self, x: torch.Tensor) -> torch.Tensor:
        """[0, 1] RGB -> ImageNet-standardised input."""
        return (x - self.mean) / self.std

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        expect_tensor("VGGFeatures input", x, ndim=4, channels=3)
        h = self.normalize(x)
        out = {}
        for index, module in enumerate(self.trunk):
            h = module(h)
            if index in self._indices:
                out[self._indices[index]] = h
        return out

    def extra_repr(self) -> str:
        return f"layers={self.layers}, weights={self.weights!r}"
