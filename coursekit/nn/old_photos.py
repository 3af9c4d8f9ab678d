"""Old-photo restoration by triplet domain translation (Wan et al. 2020, "Bringing Old Photos Back to Life").

Three domains: R (real old photos, no ground truth), X (synthetic old photos X = degrade(Y)) and Y (clean).
Two VAEs map images to *spatial* latent feature maps at 1/4 resolution, as in the paper:

- VAE1 (``SpatialVAE``) is shared by R and X: E_{R,X}, G_{R,X}. A latent discriminator
  (``LatentDiscriminator``) tells z_r from z_x; the encoder is trained to fool it, so Z_R ~ Z_X.
- VAE2 (``SpatialVAE``) on Y: E_Y, G_Y.
- Both frozen, the mapping T: Z_X -> Z_Y (``Mapping``) is trained on the synthetic pairs (x, y): ResBlocks
  for the unstructured defects plus a **partial nonlocal block** (``PartialNonLocal``) that lets each latent
  position borrow from far-away positions *outside* the scratches (Eq. 4-5 of the paper), fused with the
  local branch through the scratch mask.
- A real old photo is restored as ``G_Y(T(E_{R,X}(r)))``: ``TripletRestorer``.

Baseline: ``RepairNet``, a direct DCGAN-style encoder-decoder repair network (Trpceski & Gleason 2025:
strided convolutions
with batch norm and LeakyReLU down, transposed convolutions with batch norm and ReLU up, Tanh out) trained on
(x, y) pairs and applied to r as is; ``classical_restore`` is the non-learned baseline (denoise + biharmonic
inpainting of the scratches).

Sizes (``width`` = c): encoder conv3x3 c, conv4x4/2 2c, conv4x4/2 4c, ``n_blocks`` ResBlocks of 4c, 1x1 to 2 x
``z_dim`` channels (mu, logvar); decoder mirrors it with transposed convolutions and a sigmoid. The paper
uses c = 64, latent 64 channels, 4 ResBlocks, instance norm and 256x256 images; the lecture's CPU profiles
use smaller widths. Images are in [0, 1] everywhere.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..deprecation import renamed_keywords
from ..errors import expect_choice, expect_positive_int, expect_tensor, step_range
from ..losses import reparameterize
from . import count_parameters
from .inpainting import DilatedResidualBlock
from .layers import NORMS, norm_layer

__all__ = [
    "LatentDiscriminator",
    "Mapping",
    "PartialNonLocal",
    "RepairNet",
    "ResBlock",
    "SpatialVAE",
    "TripletRestorer",
    "before_after",
    "classical_restore",
    "count_parameters",
    "downsample_mask",
    "padded",
]


def ResBlock(channels: int, norm: str = "instance") -> nn.Module:
    """x + norm(conv3x3(ReLU(norm(conv3x3(x))))), reflect-padded: the paper's (pix2pixHD's) ResBlock, which is
    module 08's residual block without dilation."""
    return DilatedResidualBlock(channels, dilation=1, norm=norm)


def _check_images(what: str, x: torch.Tensor, channels: int = 3, multiple: int = 4) -> torch.Tensor:
    expect_tensor(what, x, ndim=4, channels=channels)
    if x.shape[-1] % multiple or x.shape[-2] % multiple:
        raise ValueError(
            f"{what}: expected height and width divisible by {multiple}, got {tuple(x.shape[-2:])}"
        )
    return x


@renamed_keywords(latent="z_dim", n_res="n_blocks")
class SpatialVAE(nn.Module):
    """A VAE whose latent is a feature map (B, z_dim, H/4, W/4): VAE1 (R and X) or VAE2 (Y) of the paper.

    ``encode(x) -> (mu, logvar)``; ``decode(z) -> image``; ``forward(x, generator=None) -> (recon, mu,
    logvar)`` with z = mu + sigma * eps; ``reconstruct(x)`` decodes mu.
    """

    def __init__(
        self, channels: int = 3, width: int = 32, z_dim: int = 32, n_blocks: int = 2, norm: str = "instance"
    ):
        super().__init__()
        self.channels = expect_positive_int("channels", channels)
        self.width = c = expect_positive_int("width", width)
        self.z_dim = expect_positive_int("z_dim", z_dim)
        expect_positive_int("n_blocks", n_blocks, minimum=0)
        expect_choice("norm", norm, NORMS)
        self.encoder = nn.Sequential(
            nn.Conv2d(channels, c, 3, padding=1, padding_mode="reflect"),
            norm_layer(norm, c),
            nn.ReLU(True),
            nn.Conv2d(c, 2 * c, 4, 2, 1),
            norm_layer(norm, 2 * c),
            nn.ReLU(True),
            nn.Conv2d(2 * c, 4 * c, 4, 2, 1),
            norm_layer(norm, 4 * c),
            nn.ReLU(True),
            *[ResBlock(4 * c, norm) for _ in range(n_blocks)],
            nn.Conv2d(4 * c, 2 * z_dim, 1),
        )
        self.decoder = nn.Sequential(
            nn.Conv2d(z_dim, 4 * c, 3, padding=1, padding_mode="reflect"),
            norm_layer(norm, 4 * c),
            nn.ReLU(True),
            *[ResBlock(4 * c, norm) for _ in range(n_blocks)],
            nn.ConvTranspose2d(4 * c, 2 * c, 4, 2, 1),
            norm_layer(norm, 2 * c),
            nn.ReLU(True),
            nn.ConvTranspose2d(2 * c, c, 4, 2, 1),
            norm_layer(norm, c),
            nn.ReLU(True),
            nn.Conv2d(c, channels, 3, padding=1, padding_mode="reflect"),
            nn.Sigmoid(),
        )

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """mu and logvar of q(z | x), each (B, z_dim, H/4, W/4)."""
        mu, logvar = self.encoder(_check_images("x", x, self.channels)).chunk(2, dim=1)
        return mu, logvar.clamp(-10.0, 10.0)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Images (B, C, 4h, 4w) in [0, 1] from latent maps (B, z_dim, h, w)."""
        expect_tensor("z", z, ndim=4, channels=self.z_dim)
        return self.decoder(z)

    def forward(self, x: torch.Tensor, generator: torch.Generator | None = None):
        mu, logvar = self.encode(x)
        return self.decode(reparameterize(mu, logvar, generator)), mu, logvar

    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        return self.decode(self.encode(x)[0])


@renamed_keywords(latent="z_dim", width="ndf")
class LatentDiscriminator(nn.Module):
    """Tells latent maps of real old photos (label 1) from those of synthetic ones (label 0).

    Two 3x3 convolutions with LeakyReLU 0.2 and a 1x1 output: one raw score per latent position (LSGAN uses
    raw scores, not probabilities). Output (B, 1, h, w).
    """

    def __init__(self, z_dim: int = 32, ndf: int = 64):
        super().__init__()
        self.z_dim = expect_positive_int("z_dim", z_dim)
        self.net = nn.Sequential(
            nn.Conv2d(z_dim, ndf, 3, padding=1),
            nn.LeakyReLU(0.2, True),
            nn.Conv2d(ndf, ndf, 3, padding=1),
            nn.LeakyReLU(0.2, True),
            nn.Conv2d(ndf, 1, 1),
        )

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        expect_tensor("z", z, ndim=4, channels=self.z_dim)
        return self.net(z)


def downsample_mask(mask: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """A scratch mask (B, 1, H, W) at latent resolution ``size``: max-pooling, so a latent cell counts as
    scratched if any of its pixels is (thin scratches must not vanish)."""
    expect_tensor("mask", mask, ndim=4, channels=1, value_range=step_range(0.0, 1.0))
    h, w = mask.shape[-2:]
    if (h, w) == tuple(size):
        return mask
    if h % size[0] or w % size[1]:
        raise ValueError(
            f"mask: expected a size that is a multiple of the latent size {tuple(size)}, got {(h, w)}"
        )
    return F.max_pool2d(mask, (h // size[0], w // size[1]))


class PartialNonLocal(nn.Module):
    """The partial nonlocal block (Wan et al. 2020, Eq. 4): attention that ignores scratched positions.

    With F the feature map flattened over positions, theta, phi, mu 1x1 convolutions to ``channels // 2`` and
    m the scratch mask at feature resolution (1 = scratched),

        s_ij = (1 - m_j) exp(theta(F_i)^T phi(F_j)) / sum_k (1 - m_k) exp(theta(F_i)^T phi(F_k)),
        O_i  = nu( sum_j s_ij mu(F_j) ) + F_i,

    i.e. a softmax over j in which scratched positions get weight 0 (log(1 - m_j) is added to the logits;
    a soft mask in (0, 1) down-weights a position).
    With ``mask=None`` it is the plain nonlocal block (Wang et al. 2018). If every position is masked the
    block falls back to attending everywhere. ``nu`` starts at zero, so the block starts as the identity.
    """

    def __init__(self, channels: int):
        super().__init__()
        self.channels = expect_positive_int("channels", channels, minimum=2)
        inner = channels // 2
        self.theta = nn.Conv2d(channels, inner, 1)
        self.phi = nn.Conv2d(channels, inner, 1)
        self.mu = nn.Conv2d(channels, inner, 1)
        self.nu = nn.Conv2d(inner, channels, 1)
        for parameter in self.nu.parameters():
            nn.init.zeros_(parameter)

    def attention(self, f: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """The attention matrix s (B, N, N), rows i (queries), columns j (keys), N = h * w."""
        b, _, h, w = f.shape
        q = self.theta(f).flatten(2).transpose(1, 2)  # (B, N, C')
        k = self.phi(f).flatten(2)  # (B, C', N)
        logits = q @ k
        if mask is not None:
            keep = 1 - downsample_mask(mask, (h, w)).flatten(1)  # (B, N)
            all_masked = keep.sum(1, keepdim=True) == 0
            keep = torch.where(all_masked, torch.ones_like(keep), keep)
            logits = logits + torch.log(keep).unsqueeze(1)  # log 0 = -inf: weight exactly 0
        return torch.softmax(logits, dim=-1)

    def forward(self, f: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        expect_tensor("features", f, ndim=4, channels=self.channels)
        b, _, h, w = f.shape
        s = self.attention(f, mask)
        values = self.mu(f).flatten(2).transpose(1, 2)  # (B, N, C')
        o = (s @ values).transpose(1, 2).reshape(b, -1, h, w)
        return self.nu(o) + f


@renamed_keywords(latent="z_dim", n_res_in="n_blocks_in", n_res_out="n_blocks_out")
class Mapping(nn.Module):
    """T: Z_X -> Z_Y. conv3x3 -> ``n_blocks_in`` ResBlocks -> partial nonlocal -> mask-fused local / global
    ResBlocks (Eq. 5: F_fuse = (1 - m) * rho_local(F) + m * rho_global(O)) -> ``n_blocks_out`` ResBlocks ->
    conv3x3 back to the latent channels. ``forward(z, mask=None)``: without a mask the global branch is used
    everywhere with a plain nonlocal block (the paper's model for photos without scratches)."""

    def __init__(
        self, z_dim: int = 32, width: int = 64, n_blocks_in: int = 2, n_blocks_out: int = 2,
        norm: str = "instance",
    ):
        super().__init__()
        self.z_dim = expect_positive_int("z_dim", z_dim)
        expect_choice("norm", norm, NORMS)
        self.head = nn.Sequential(
            nn.Conv2d(z_dim, width, 3, padding=1, padding_mode="reflect"),
            norm_layer(norm, width),
            nn.ReLU(True),
            *[ResBlock(width, norm) for _ in range(n_blocks_in)],
        )
        self.nonlocal_block = PartialNonLocal(width)
        self.local = ResBlock(width, norm)
        self.global_ = ResBlock(width, norm)
        self.tail = nn.Sequential(
            *[ResBlock(width, norm) for _ in range(n_blocks_out)],
            nn.Conv2d(width, z_dim, 3, padding=1, padding_mode="reflect"),
        )

    def forward(self, z: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        expect_tensor("z", z, ndim=4, channels=self.z_dim)
        f = self.head(z)
        o = self.nonlocal_block(f, mask)
        if mask is None:
            fused = self.global_(o)
        else:
            m = downsample_mask(mask, f.shape[-2:])
            fused = (1 - m) * self.local(f) + m * self.global_(o)
        return self.tail(fused)


class TripletRestorer(nn.Module):
    """r -> G_Y(T(E_{R,X}(r), mask)): the restoration of the paper, from VAE1, the mapping and VAE2.

    Uses the latent means (no sampling). ``forward(x, mask=None)``; a 4-channel input is read as RGB + mask
    (so :func:`coursekit.tiling.tiled_apply` can cut image and mask into the same tiles).
    """

    def __init__(self, vae1: SpatialVAE, mapping: Mapping, vae2: SpatialVAE):
        super().__init__()
        self.vae1, self.mapping, self.vae2 = vae1, mapping, vae2

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        if x.ndim == 4 and x.shape[1] == 4:
            x, mask = x[:, :3], x[:, 3:]
        return self.vae2.decode(self.mapping(self.vae1.encode(x)[0], mask))


class RepairNet(nn.Module):
    """The direct repair baseline (the DCGAN-style network of Trpceski & Gleason 2025, as an image-to-image
    encoder-decoder).

    Down: Conv4x4/2 c + LeakyReLU 0.2; Conv4x4/2 2c + BN + LeakyReLU; Conv4x4/2 4c + BN + LeakyReLU.
    Up: ConvT4x4/2 2c + BN + ReLU; ConvT4x4/2 c + BN + ReLU; ConvT4x4/2 3 + Tanh, rescaled to [0, 1].
    Trained on (x, y) pairs with L1 (+ a DCGAN discriminator in the lecture); height and width must be
    multiples of 8. A 4-channel input (RGB + mask) is accepted, so it tiles like :class:`TripletRestorer`.
    With ``mask_input=False`` (the paper's network) the mask is ignored; with ``mask_input=True`` the scratch
    mask is a 4th input channel of the first convolution and ``forward`` requires it (the lecture's control:
    the mask the latent route gets, given to direct repair too).
    """

    def __init__(self, channels: int = 3, width: int = 32, mask_input: bool = False):
        super().__init__()
        self.channels = expect_positive_int("channels", channels)
        self.mask_input = bool(mask_input)
        c = expect_positive_int("width", width)
        self.net = nn.Sequential(
            nn.Conv2d(channels + self.mask_input, c, 4, 2, 1),
            nn.LeakyReLU(0.2, True),
            nn.Conv2d(c, 2 * c, 4, 2, 1, bias=False),
            nn.BatchNorm2d(2 * c),
            nn.LeakyReLU(0.2, True),
            nn.Conv2d(2 * c, 4 * c, 4, 2, 1, bias=False),
            nn.BatchNorm2d(4 * c),
            nn.LeakyReLU(0.2, True),
            nn.ConvTranspose2d(4 * c, 2 * c, 4, 2, 1, bias=False),
            nn.BatchNorm2d(2 * c),
            nn.ReLU(True),
            nn.ConvTranspose2d(2 * c, c, 4, 2, 1, bias=False),
            nn.BatchNorm2d(c),
            nn.ReLU(True),
            nn.ConvTranspose2d(c, channels, 4, 2, 1),
            nn.Tanh(),
        )

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        if x.ndim == 4 and x.shape[1] == self.channels + 1:
            x, mask = x[:, : self.channels], x[:, self.channels :]
        _check_images("x", x, self.channels, multiple=8)
        if not self.mask_input:
            return (self.net(x) + 1) / 2
        if mask is None:
            raise ValueError(
                "mask: expected a (B, 1, H, W) scratch mask (this RepairNet has mask_input=True), got None"
            )
        expect_tensor("mask", mask, ndim=4, channels=1, value_range=step_range(0.0, 1.0))
        if mask.shape[0] != x.shape[0] or mask.shape[-2:] != x.shape[-2:]:
            raise ValueError(f"mask: expected shape ({x.shape[0]}, 1, {x.shape[2]}, {x.shape[3]}), "
                             f"got {tuple(mask.shape)}")
        return (self.net(torch.cat([x, mask], 1)) + 1) / 2


# ------------------------------------------------------------------------------------ classical baseline
def classical_restore(
    images: torch.Tensor, masks: torch.Tensor, denoise_weight: float = 0.06
) -> torch.Tensor:
    """Non-learned restoration: total-variation denoising (``skimage.restoration.denoise_tv_chambolle``),
    then biharmonic inpainting of the masked pixels (``skimage.restoration.inpaint_biharmonic``).

    images (B, 3, H, W) in [0, 1]; masks (B, 1, H, W), 1 = scratch. Returns (B, 3, H, W). CPU, per image.
    """
    from skimage.restoration import denoise_tv_chambolle, inpaint_biharmonic

    expect_tensor("images", images, ndim=4, channels=3, value_range=(0.0, 1.0))
    expect_tensor("masks", masks, ndim=4, channels=1, value_range=(0.0, 1.0))
    if masks.shape[0] != images.shape[0] or masks.shape[-2:] != images.shape[-2:]:
        raise ValueError(
            f"masks: expected shape ({images.shape[0]}, 1, {images.shape[2]}, {images.shape[3]}), "
            f"got {tuple(masks.shape)}"
        )
    out = []
    for img, m in zip(images.detach().cpu().double().numpy(), masks.detach().cpu().numpy(), strict=True):
        hwc = img.transpose(1, 2, 0)
        hole = m[0] > 0.5
        smooth = denoise_tv_chambolle(hwc, weight=denoise_weight, channel_axis=-1)
        if hole.any() and not hole.all():
            smooth = inpaint_biharmonic(smooth, hole, channel_axis=-1)
        out.append(torch.from_numpy(smooth.transpose(2, 0, 1).copy()))
    return torch.stack(out).float().clamp(0, 1).to(images.device)


# ----------------------------------------------------------------------------------- before/after view
def before_after(before: torch.Tensor, after: torch.Tensor, split: float = 0.5) -> torch.Tensor:
    """One image: ``after`` left of the split (a fraction of the width), ``before`` right of it, with a thin
    white line at the split. Both (3, H, W) in [0, 1]."""
    expect_tensor("before", before, ndim=3, value_range=(0.0, 1.0))
    expect_tensor("after", after, ndim=3, value_range=(0.0, 1.0))
    if before.shape != after.shape:
        raise ValueError(
            f"after: expected the shape of before {tuple(before.shape)}, got {tuple(after.shape)}"
        )
    w = before.shape[-1]
    cut = int(round(min(max(float(split), 0.0), 1.0) * w))
    out = before.clone()
    out[..., :cut] = after[..., :cut]
    if 0 < cut < w:
        out[..., max(cut - 1, 0) : cut + 1] = 1.0
    return out


def padded(fn, multiple: int = 8):
    """Wrap an image-to-image ``fn`` so it accepts any height and width: reflect-pad the input up to a
    multiple of ``multiple`` (the VAEs need 4, RepairNet 8), run ``fn``, crop back. Tiles cut by
    :func:`coursekit.tiling.tiled_apply` at the image border have arbitrary sizes."""
    expect_positive_int("multiple", multiple)

    def run(x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        ph, pw = (-h) % multiple, (-w) % multiple
        if ph or pw:
            mode = "reflect" if ph < h and pw < w else "replicate"
            x = F.pad(x, (0, pw, 0, ph), mode=mode)
        return fn(x)[..., :h, :w]

    return run
