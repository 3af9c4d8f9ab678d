"""A sharpness measure that needs no reference image: the energy above a spatial frequency."""

from __future__ import annotations

from ..errors import expect_choice, expect_number, expect_tensor
from .checks import REDUCTIONS, expect_in_range, expect_shave, reduce_per_image


def high_frequency_energy(x, cutoff: float = 0.25, reduction: str = "mean", shave: int = 0):
    """Mean energy per pixel above a spatial frequency: a sharpness measure that needs no reference image.

    x: (B, C, H, W) or (C, H, W) in [0, 1] (pass the Y channel for SR results). Each channel is windowed
    (Hann, so the image border does not count as an edge), Fourier transformed, and the power at radial
    frequencies above ``cutoff`` cycles per pixel (Nyquist is 0.5) is summed and divided by H * W (by
    Parseval, the mean square of the high-pass image), averaged over channels. Blurry images (bicubic,
    MSE-trained SR) have less of it than the ground truth; GAN-trained SR puts texture back (Ledig et al.
    2017: lower PSNR, sharper). ``shave`` removes border pixels first. One value per image with
    ``reduction="none"``.
    """
    import torch

    expect_choice("reduction", reduction, REDUCTIONS)
    if not 0 < expect_number("cutoff", cutoff, "a frequency in (0, 0.5) cycles per pixel") < 0.5:
        raise ValueError(f"cutoff: expected a frequency in (0, 0.5) cycles per pixel, got {cutoff!r}")
    expect_tensor("x", x, ndim=(3, 4))
    expect_in_range("x", x, 1.0)
    batched = x.ndim == 4
    x = x if batched else x.unsqueeze(0)
    shave = expect_shave(shave)
    if 2 * shave >= min(x.shape[-2:]) - 2:
        smaller = min(x.shape[-2:])
        raise ValueError(f"shave: expected fewer than half the smaller side ({smaller}), got {shave}")
    if shave:
        x = x[..., shave:-shave, shave:-shave]
    height, width = x.shape[-2:]
    x = x.to(torch.float64)
    window = torch.outer(
        torch.hann_window(height, periodic=False, dtype=x.dtype, device=x.device),
        torch.hann_window(width, periodic=False, dtype=x.dtype, device=x.device),
    )
    power = torch.fft.fft2((x - x.mean(dim=(-2, -1), keepdim=True)) * window).abs().pow(2)
    fy = torch.fft.fftfreq(height, dtype=x.dtype, device=x.device)[:, None]
    fx = torch.fft.fftfreq(width, dtype=x.dtype, device=x.device)[None, :]
    mask = (fy**2 + fx**2).sqrt() > cutoff
    per_image = ((power * mask).sum(dim=(-2, -1)) / (height * width) ** 2).mean(dim=1)
    # normalise by the window's energy so a flat-spectrum image gives the same number at any size
    per_image = per_image * (height * width) / window.pow(2).sum()
    return reduce_per_image(per_image.float(), reduction, batched)
