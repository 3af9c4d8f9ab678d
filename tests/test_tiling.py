"""Tiled inference (coursekit.tiling): tiled == untiled when the overlap covers the receptive field, bounded
tile size, weights that sum to one, clear errors."""

import itertools

import pytest
import torch
from torch import nn

from coursekit.nn.esrgan import RRDBNet
from coursekit.tiling import receptive_radius, tile_spans, tiled_apply, upscale


def _net(scale: int = 2, depth: int = 3) -> nn.Module:
    torch.manual_seed(0)
    layers: list[nn.Module] = [nn.Conv2d(3, 8, 3, padding=1), nn.ReLU()]
    for _ in range(depth - 2):
        layers += [nn.Conv2d(8, 8, 3, padding=1), nn.ReLU()]
    layers += [nn.Upsample(scale_factor=scale, mode="nearest"), nn.Conv2d(8, 3, 1)]
    return nn.Sequential(*layers).eval()


class _Constant(nn.Module):
    """An image of one learned colour: depends on its parameter only, never on the input's pixels."""

    def __init__(self):
        super().__init__()
        self.colour = nn.Parameter(torch.ones(1, 3, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.colour.expand(1, 3, *x.shape[2:])


def test_receptive_radius_is_zero_when_the_output_ignores_the_input():
    assert receptive_radius(_Constant(), size=9) == 0


def test_tiled_equals_untiled_when_overlap_covers_the_receptive_field():
    net = _net(scale=2, depth=3)
    assert receptive_radius(net, scale=2, size=21) == 2
    image = torch.rand(3, 45, 61, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        whole = net(image[None])[0]
        tiled = tiled_apply(net, image, scale=2, tile=16, overlap=4)
    assert tiled.shape == whole.shape == (3, 90, 122)
    assert (tiled - whole).abs().max() <= 1e-5


def test_too_small_overlap_differs_but_has_no_hard_seam():
    net = _net(scale=1, depth=6)  # radius 5
    image = torch.rand(1, 3, 40, 40, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        whole = net(image)
        small = tiled_apply(net, image, scale=1, tile=10, overlap=2)
        enough = tiled_apply(net, image, scale=1, tile=20, overlap=10)
    assert (small - whole).abs().max() > 1e-4
    assert (enough - whole).abs().max() <= 1e-5
    assert small.shape == (1, 3, 40, 40)


def test_rrdbnet_tiles_exactly_with_its_radius():
    torch.manual_seed(0)
    net = RRDBNet(scale=4, width=8, n_blocks=1, growth=4).eval()
    r = net.receptive_radius()
    assert receptive_radius(net, scale=4, size=2 * r + 9) <= r
    image = torch.rand(3, 37, 30, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        whole = net(image[None])[0]
    tiled = upscale(net, image, scale=4, tile=2 * (2 * r), overlap=2 * r)
    assert (tiled - whole).abs().max() <= 1e-4


def test_weights_are_a_partition_of_unity_and_tiles_are_bounded():
    seen = []

    def identity_x3(x):
        seen.append(tuple(x.shape[2:]))
        return torch.nn.functional.interpolate(x, scale_factor=3, mode="nearest")

    image = torch.rand(1, 2, 53, 77, generator=torch.Generator().manual_seed(4))
    out = tiled_apply(identity_x3, image, scale=3, tile=16, overlap=6)
    assert torch.allclose(out, identity_x3(image), atol=1e-6)
    assert max(h for h, _ in seen[:-1]) <= 16 + 2 * 6 and max(w for _, w in seen[:-1]) <= 16 + 2 * 6
    assert len(seen) - 1 == 4 * 5


def test_tile_spans_cover_without_gaps():
    spans = tile_spans(100, 30, 5)
    assert spans[0][2] == 0 and spans[-1][3] == 100
    assert all(a[3] == b[2] for a, b in itertools.pairwise(spans))
    assert all(r0 == max(0, c0 - 5) and r1 == min(100, c1 + 5) for r0, r1, c0, c1 in spans)


def test_upscale_restores_training_mode_and_has_no_grad():
    net = _net(scale=2).train()
    out = upscale(net, torch.rand(3, 20, 20), scale=2, tile=8, overlap=4)
    assert net.training and not out.requires_grad and out.shape == (3, 40, 40)


def test_bad_input_raises_an_error_naming_expected_and_actual():
    net = _net(scale=2)
    with pytest.raises(ValueError, match=r"expected shape \(C, H, W\) or \(1, C, H, W\), got \(2, 3, 8, 8\)"):
        tiled_apply(net, torch.rand(2, 3, 8, 8), scale=2)
    with pytest.raises(ValueError, match="overlap: expected at most tile // 2 = 8"):
        tiled_apply(net, torch.rand(3, 8, 8), scale=2, tile=16, overlap=9)
    with pytest.raises(
        ValueError,
        match=r"fn: expected an output of shape \(1, C', 32, 32\).*got Tensor of shape \(1, 3, 16, 16\)",
    ):
        tiled_apply(net, torch.rand(3, 8, 8), scale=4, tile=16, overlap=0)
    with pytest.raises(TypeError, match="floating-point"):
        tiled_apply(net, torch.zeros(3, 8, 8, dtype=torch.uint8))
    with pytest.raises(TypeError, match=r"tile: expected an integer >= \d+, got 16.0 of type float"):
        tiled_apply(net, torch.rand(3, 8, 8), scale=2, tile=16.0)
