"""PG-GAN inpainting (Demir & Unal 2018, "Patch-Based Image Inpainting with Generative Adversarial Networks",
arXiv 1803.07422): a ResNet generator with dilated residual blocks, and one discriminator whose shared trunk
splits into a global head (one score per image, G-GAN) and a PatchGAN head (a map of scores, one per patch).

We found no official code; this file follows the paper's description and the ResNet
generator of Johnson et al. / pix2pix that the paper builds on::

    G: [image with the hole blanked, mask] (C + 1 channels)
       -> 7x7 conv ngf -> n_down stride-2 3x3 convs (ngf * 2, ngf * 4)          downsampling
       -> n_blocks dilated residual blocks (3x3 convs, dilation 2 by default)  wide receptive field
       -> n_down stride-2 transposed convs back to ngf -> 7x7 conv C -> Tanh   upsampling
       norm + ReLU after every conv but the last; reflection padding on the 7x7 and the dilated convs.
    D: shared trunk  4x4 stride-2 convs ndf, 2 ndf, 4 ndf (LeakyReLU 0.2, norm from the second on)
       -> patch head:  4x4 stride-1 conv 8 ndf, norm, LeakyReLU, 4x4 stride-1 conv 1  -> a logit map
       -> global head: 4x4 stride-2 convs 8 ndf ... down to 4x4, flatten, linear 1   -> one logit
    L_G = l1 * L1(G(x), y) + l2 * L_adv(global) + l3 * L_adv(patch), with (l1, l2, l3) = (0.995, 0.0025,
    0.0025) (our reading of Demir & Unal 2018, not confirmed in code), see
    ``coursekit.losses.pggan_generator_loss``.

Deliberate choices where the paper is silent or we could not check it: instance norm (as the ResNet generators
of pix2pix/CycleGAN; ``norm="batch"`` is available), dilation 2 in every block, the exact depth of the heads.
As everywhere in coursekit, images are in [0, 1] at the interface (mapped to [-1, 1] inside, Tanh output
mapped back), masks are (B, 1, H, W) with **1 = missing**, and the discriminator returns **logits**.

Helpers for the lecture: the baselines (:func:`mean_fill`, :func:`biharmonic_fill`), the composite
:func:`composite` (known pixels kept, the hole from the network) and the metrics inside the hole
(:func:`hole_psnr`, :func:`hole_ssim`).
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from ..errors import describe, expect_choice, expect_positive_int, expect_tensor, step_range
from .layers import NORMS, norm_layer

PGGAN_WEIGHTS = (0.995, 0.0025, 0.0025)  # (l1, l2, l3): L1, global adversarial, patch adversarial


def _check_images_and_mask(image, mask, channels: int, multiple: int = 1, every_step: bool = False):
    """image (B, C, H, W) in [0, 1] and mask (B or 1, 1, H, W) in [0, 1] with matching sizes (the ranges in a
    forward pass, ``every_step``, only under ``COURSEKIT_DEBUG=1``: a range check waits for the GPU)."""
    unit = step_range(0.0, 1.0) if every_step else (0.0, 1.0)
    expect_tensor("image", image.detach(), ndim=4, channels=channels, value_range=unit)
    expect_tensor("mask", mask.detach(), ndim=4, channels=1, value_range=unit)
    b, _, h, w = image.shape
    if mask.shape[-2:] != (h, w) or mask.shape[0] not in (1, b):
        raise ValueError(
            f"mask: expected shape ({b} or 1, 1, {h}, {w}) to match the images, got {describe(mask)}"
        )
    if h % multiple or w % multiple:
        raise ValueError(
            f"image: expected height and width divisible by {multiple} (the generator downsamples "
            f"{int(math.log2(multiple))} times), got {h}x{w}"
        )


def masked_input(image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """The generator's input: the image with its hole blanked (x (1 - m)) and the mask, concatenated.

    (B, C, H, W) and (B, 1, H, W) -> (B, C + 1, H, W). The network never sees the missing pixels, and the
    mask channel tells it where the hole is (a 0 in the image could be black, not missing).
    """
    return torch.cat([image * (1 - mask), mask.expand(image.shape[0], -1, -1, -1)], dim=1)


def composite(output: torch.Tensor, image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """The inpainted image: the known pixels from ``image``, the hole from ``output`` (m G(x) + (1 - m) x)."""
    return mask * output + (1 - mask) * image


class DilatedResidualBlock(nn.Module):
    """x + norm(conv3x3_d(relu(norm(conv3x3_d(x))))): a ResNet block whose convs are dilated by d.

    A dilated 3x3 conv sees a (2d + 1) x (2d + 1) window with 9 weights, so a stack of blocks reaches across
    a large hole without more downsampling (Yu & Koltun 2016; used by Iizuka et al. 2017 and PG-GAN).
    """

    def __init__(self, channels: int, dilation: int = 2, norm: str = "instance"):
        super().__init__()
        self.dilation = expect_positive_int("dilation", dilation)
        self.body = nn.Sequential(
            nn.ReflectionPad2d(dilation),
            nn.Conv2d(channels, channels, 3, dilation=dilation),
            norm_layer(norm, channels),
            nn.ReLU(True),
            nn.ReflectionPad2d(dilation),
            nn.Conv2d(channels, channels, 3, dilation=dilation),
            norm_layer(norm, channels),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class Generator(nn.Module):
    """PG-GAN's ResNet generator: ``G(image, mask)`` -> (B, C, H, W) in [0, 1], a prediction of every pixel.

    ``image`` (B, C, H, W) in [0, 1] (the values under the hole are ignored: they are blanked here), ``mask``
    (B, 1, H, W), 1 = missing. H and W must be divisible by 2 ** n_down. Use :func:`composite` (or
    :meth:`inpaint`) to keep the known pixels.
    """

    def __init__(
        self,
        channels: int = 3,
        ngf: int = 64,
        n_blocks: int = 9,
        n_down: int = 2,
        dilation: int = 2,
        norm: str = "instance",
    ):
        super().__init__()
        self.channels = expect_positive_int("channels", channels)
        expect_positive_int("ngf", ngf)
        self.n_blocks = expect_positive_int("n_blocks", n_blocks, minimum=0)
        self.n_down = expect_positive_int("n_down", n_down, minimum=0)
        expect_choice("norm", norm, NORMS)
        layers: list[nn.Module] = [
            nn.ReflectionPad2d(3),
            nn.Conv2d(channels + 1, ngf, 7),
            norm_layer(norm, ngf),
            nn.ReLU(True),
        ]
        width = ngf
        for _ in range(n_down):
            layers += [nn.Conv2d(width, 2 * width, 3, 2, 1), norm_layer(norm, 2 * width), nn.ReLU(True)]
            width *= 2
        layers += [DilatedResidualBlock(width, dilation, norm) for _ in range(n_blocks)]
        for _ in range(n_down):
            layers += [
                nn.ConvTranspose2d(width, width // 2, 3, 2, 1, output_padding=1),
                norm_layer(norm, width // 2),
                nn.ReLU(True),
            ]
            width //= 2
        layers += [nn.ReflectionPad2d(3), nn.Conv2d(width, channels, 7), nn.Tanh()]
        self.net = nn.Sequential(*layers)

    def forward(self, image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        _check_images_and_mask(image, mask, self.channels, 2**self.n_down, every_step=True)
        x = masked_input(image, mask) * 2 - 1  # image and mask in [-1, 1], like the paper's inputs
        return (self.net(x) + 1) / 2

    def inpaint(self, image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """The completed image: known pixels kept, the hole filled by the generator."""
        return composite(self(image, mask), image, mask)


class Discriminator(nn.Module):
    """PG-GAN's two-headed discriminator: ``D(x)`` -> (global logits (B,), patch logits (B, 1, h, w)).

    Both heads read the same trunk features, so the trunk learns from both adversarial losses; the global
    head judges the whole image (its last layer sees everything), the patch head judges overlapping patches
    (each output sees a window of the input: :meth:`patch_receptive_field` pixels).
    """

    def __init__(
        self, size: int = 64, channels: int = 3, ndf: int = 64, n_trunk: int = 3, norm: str = "instance"
    ):
        super().__init__()
        self.size = expect_positive_int("size", size, minimum=16)
        self.channels = expect_positive_int("channels", channels)
        expect_positive_int("ndf", ndf)
        self.n_trunk = expect_positive_int("n_trunk", n_trunk)
        expect_choice("norm", norm, NORMS)
        if size % 2**n_trunk or size // 2**n_trunk < 4:
            raise ValueError(
                f"size: expected a multiple of {2**n_trunk} and at least {2 ** (n_trunk + 2)} "
                f"(the trunk halves it {n_trunk} times), got {size}"
            )
        trunk: list[nn.Module] = []
        width, c_in = ndf, channels
        for i in range(n_trunk):
            trunk += [nn.Conv2d(c_in, width, 4, 2, 1)]
            trunk += [norm_layer(norm, width)] if i else []
            trunk += [nn.LeakyReLU(0.2, True)]
            c_in, width = width, width * 2
        self.trunk = nn.Sequential(*trunk)
        features = c_in  # ndf * 2 ** (n_trunk - 1)
        self.patch_head = nn.Sequential(
            nn.Conv2d(features, 2 * features, 4, 1, 1),
            norm_layer(norm, 2 * features),
            nn.LeakyReLU(0.2, True),
            nn.Conv2d(2 * features, 1, 4, 1, 1),
        )
        side = size // 2**n_trunk
        glob: list[nn.Module] = []
        width = features
        while side > 4:
            down = nn.Conv2d(width, 2 * width, 4, 2, 1)
            glob += [down, norm_layer(norm, 2 * width), nn.LeakyReLU(0.2, True)]
            width, side = 2 * width, side // 2
        glob += [nn.Flatten(), nn.Linear(width * side * side, 1)]
        self.global_head = nn.Sequential(*glob)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        expect_tensor("x", x.detach(), ndim=4, channels=self.channels, value_range=step_range(0.0, 1.0))
        if x.shape[-2:] != (self.size, self.size):
            raise ValueError(
                f"x: expected images of size {self.size}x{self.size}, got {tuple(x.shape[-2:])}"
            )
        features = self.trunk(x * 2 - 1)
        return self.global_head(features).flatten(), self.patch_head(features)

    def patch_receptive_field(self) -> int:
        """Input pixels seen by one patch logit (3 trunk layers: 70, as pix2pix's 70x70 PatchGAN)."""
        convs = [m for m in [*self.trunk, *self.patch_head] if isinstance(m, nn.Conv2d)]
        field = 1
        for conv in reversed(convs):
            field = (field - 1) * conv.stride[0] + conv.kernel_size[0]
        return field


def init_weights(module: nn.Module) -> nn.Module:
    """N(0, 0.02) conv / linear weights, zero biases, norm scales N(1, 0.02) (the pix2pix / DCGAN init)."""
    for layer in module.modules():
        if isinstance(layer, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            nn.init.normal_(layer.weight, 0.0, 0.02)
            if layer.bias is not None:
                nn.init.zeros_(layer.bias)
        elif isinstance(layer, (nn.BatchNorm2d, nn.InstanceNorm2d)) and layer.weight is not None:
            nn.init.normal_(layer.weight, 1.0, 0.02)
            nn.init.zeros_(layer.bias)
    return module


def build(size: int = 64, channels: int = 3, ngf: int = 64, ndf: int = 64, n_blocks: int = 9, seed: int = 0,
          n_trunk: int = 3, **kwargs):
    """A seeded, initialised (Generator, Discriminator) pair; ``kwargs`` (n_down, dilation, norm) go to the
    generator, ``n_trunk`` (shared stride-2 layers, 3 as in pix2pix's 70x70 PatchGAN) to the discriminator."""
    generator = torch.Generator().manual_seed(seed)
    state = torch.random.get_rng_state()
    torch.manual_seed(int(torch.randint(0, 2**31, (1,), generator=generator)))
    try:
        G = init_weights(Generator(channels, ngf, n_blocks, **kwargs))
        D = init_weights(Discriminator(size, channels, ndf, n_trunk, kwargs.get("norm", "instance")))
    finally:
        torch.random.set_rng_state(state)
    return G, D


def optimizers(G: nn.Module, D: nn.Module, lr: float = 2e-4, betas=(0.5, 0.999)):
    """Adam for each network (pix2pix's settings; the paper's exact optimiser settings were not checked)."""
    return (torch.optim.Adam(G.parameters(), lr=lr, betas=betas),
            torch.optim.Adam(D.parameters(), lr=lr, betas=betas))


# --------------------------------------------------------------------------------------------- masks
def box_mask(size: int, top: int, left: int, hole: int, batch: int = 1) -> torch.Tensor:
    """A square hole of side ``hole``, top-left corner at (top, left): (batch, 1, size, size), 1 = missing.

    ``coursekit.data.degrade.center_mask(size, hole)`` is the centred case; this one moves (the widget).
    """
    size, hole = expect_positive_int("size", size), expect_positive_int("hole", hole)
    if hole > size or not 0 <= top <= size - hole or not 0 <= left <= size - hole:
        raise ValueError(
            f"box: expected hole <= {size} and 0 <= top, left <= {size} - hole, "
            f"got top={top}, left={left}, hole={hole}"
        )
    mask = torch.zeros(expect_positive_int("batch", batch), 1, size, size)
    mask[:, :, top : top + hole, left : left + hole] = 1.0
    return mask


def random_masks(
    batch: int, size: int, seed: int, hole_range=(0.25, 0.5), coverage=(0.1, 0.3)
) -> torch.Tensor:
    """Training masks: each image gets either a square hole (side: a random fraction ``hole_range`` of size,
    at a random position) or a free-form brush-stroke mask (``degrade.irregular_mask`` with ``coverage``),
    with probability 1/2 each. Seeded, drawn on the CPU; (batch, 1, size, size), 1 = missing."""
    from ..data import degrade

    gen = torch.Generator().manual_seed(int(seed))
    lo, hi = (max(1, round(f * size)) for f in hole_range)
    masks = degrade.irregular_mask(batch, size, seed=int(torch.randint(0, 2**31, (1,), generator=gen)),
                                   coverage=coverage)
    for i in range(batch):
        if torch.rand((), generator=gen) < 0.5:
            hole = int(torch.randint(lo, hi + 1, (), generator=gen))
            top, left = (int(v) for v in torch.randint(0, size - hole + 1, (2,), generator=gen))
            masks[i] = box_mask(size, top, left, hole)[0]
    return masks


# --------------------------------------------------------------------------------------------- baselines
def mean_fill(image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Fill the hole with each image's mean colour over its KNOWN pixels (per channel): the floor baseline."""
    _check_images_and_mask(image, mask, image.shape[1] if image.ndim == 4 else 3)
    known = 1 - mask
    mean = (image * known).sum((2, 3), keepdim=True) / known.sum((2, 3), keepdim=True).clamp_min(1)
    return composite(mean.expand_as(image), image, mask)


def biharmonic_fill(image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """``skimage.restoration.inpaint_biharmonic`` on each image: the smoothest fill (solves the biharmonic
    equation in the hole with the known pixels as boundary values). CPU, NumPy; returns a tensor like
    ``image``."""
    from skimage.restoration import inpaint_biharmonic

    _check_images_and_mask(image, mask, image.shape[1] if image.ndim == 4 else 3)
    images = image.detach().cpu().double().numpy().transpose(0, 2, 3, 1)
    masks = mask.detach().cpu().expand(image.shape[0], -1, -1, -1).numpy()[:, 0] > 0.5
    out = [
        inpaint_biharmonic(x, m, channel_axis=-1) if m.any() else x
        for x, m in zip(images, masks, strict=True)
    ]
    filled = torch.from_numpy(np.stack(out).transpose(0, 3, 1, 2)).clamp(0, 1)
    return filled.to(image.device, image.dtype)


# --------------------------------------------------------------------------------------------- metrics
def hole_psnr(x: torch.Tensor, y: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """PSNR in dB computed over the MISSING pixels only (mask == 1), one value per image, (B,).

    The known pixels are copied from the ground truth by every method, so a whole-image PSNR would mostly
    measure the hole's size; inside the hole it measures the fill.
    """
    _check_images_and_mask(x, mask, x.shape[1])
    if x.shape != y.shape:
        raise ValueError(f"x and y: expected the same shape, got {tuple(x.shape)} and {tuple(y.shape)}")
    m = mask.expand(x.shape[0], 1, *x.shape[-2:]).double()
    se = ((x.double() - y.double()) ** 2 * m).sum((1, 2, 3))
    n = m.sum((1, 2, 3)) * x.shape[1]
    if (n == 0).any():
        raise ValueError("mask: expected at least one missing pixel per image, got an empty hole")
    return 10 * torch.log10(1.0 / (se / n))


def hole_ssim(x: torch.Tensor, y: torch.Tensor, mask: torch.Tensor, win_size: int = 11) -> torch.Tensor:
    """SSIM (Wang et al. 2004, Gaussian window 11, sigma 1.5) averaged over the local SSIM map at the
    missing pixels: one value per image, (B,). Windows centred in the hole also see some known border pixels,
    as any local measure must."""
    from ..metrics import ssim_map

    _check_images_and_mask(x, mask, x.shape[1])
    local = ssim_map(x.double(), y.double(), win_size=win_size).mean(1)  # (B, H - 10, W - 10)
    r = (win_size - 1) // 2
    m = mask.expand(x.shape[0], 1, *x.shape[-2:])[:, 0, r:-r, r:-r].double()
    if (m.sum((1, 2)) == 0).any():
        raise ValueError(f"mask: expected missing pixels at least {r} pixels away from the border, got none")
    return (local * m).sum((1, 2)) / m.sum((1, 2))
