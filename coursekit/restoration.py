"""Image restoration as an inverse problem y = A(x) + noise: the operators A, a TV baseline, Poisson blending.

Yeh et al. 2018 ("Image restoration with deep generative models", ICASSP) restore five corruptions
of 64x64 faces with one recipe: find the image a prior likes whose corrupted version matches the observation.
This file has everything that does not depend on the prior:

- **Measurement operators A** (Yeh et al. 2018, section 3.2), all differentiable so gradients reach a GAN's
  latent:
  ``mask`` (inpainting: keep the known pixels), ``value`` (colorization: RGB -> V of HSV, max(R, G, B)),
  ``downsample`` (super-resolution: a Gaussian low-pass, then keep every 4th pixel), ``identity`` (denoising,
  and quantization, whose step function has no useful gradient).
- **Tasks**: the operator plus the corruption of Yeh et al. 2018 (section 4.1) that makes the observation y.
  At 64x64: a centre 32x32 hole, grayscale, x4 down, Gaussian noise sigma 0.1, 5 levels per channel; at other
  sizes the hole scales with the image (16x16 in a 32x32 face).
- **Total variation** (Rudin, Osher & Fatemi 1992), the classical baseline of Table 1 of Yeh et al. 2018:
  ``x = argmin_{x in [0,1]} lam * TV(x) + 1/2 ||A x - y||^2`` solved with the primal-dual algorithm of
  Chambolle and Pock (2011) for the linear operators (every task but colorization, where V is not linear and
  Yeh et al. 2018 report no TV number either).
- **Poisson blending** (Pérez et al. 2003): paste the gradients of a generated fill into the hole
  of the observed image, solving the discrete Poisson equation with a sparse direct solver.

Images are (B, C, H, W) tensors in [0, 1], like everywhere in coursekit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol

import torch
import torch.nn.functional as F

from .config import dry_run_steps
from .errors import expect_choice, expect_positive_int, expect_tensor
from .metrics import gaussian_window

TASKS = ("inpainting", "colorization", "super_resolution", "denoising", "quantization")
NOISE_SIGMA = 0.1  # Yeh et al. 2018, section 4.1
QUANT_LEVELS = 5
SR_FACTOR = 4


# ----------------------------------------------------------------------------------------------------------
# measurement operators A


class Operator:
    """A measurement operator: ``A(x)`` maps images (B, C, H, W) to observations; differentiable.

    ``linear`` says whether A is linear (then ``A.adjoint(p, like)`` gives A^T p, computed by autograd as the
    vector-Jacobian product, and ``A.norm`` bounds the operator norm ||A||, used by the TV solver).
    """

    name = "operator"
    linear = True
    norm = 1.0

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        expect_tensor(f"{self.name} operator input", x, ndim=4)
        return self.forward(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # pragma: no cover - overridden
        raise NotImplementedError

    def adjoint(self, p: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
        """A^T p for a linear A (``like``: any tensor with the shape of A's input)."""
        if not self.linear:
            raise ValueError(f"adjoint: the {self.name} operator is not linear, it has no adjoint")
        with torch.enable_grad():
            x = torch.zeros_like(like).requires_grad_(True)
            (grad,) = torch.autograd.grad(self.forward(x), x, grad_outputs=p)
        return grad

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class Identity(Operator):
    """A(x) = x: denoising, and quantization (Yeh et al. 2018: the true step function has no useful
    gradient)."""

    name = "identity"

    def forward(self, x):
        return x


class Mask(Operator):
    """A(x) = keep * x with keep = 1 - missing: inpainting.

    ``missing`` is (B or 1, 1, H, W), 1 in the hole.
    """

    name = "mask"

    def __init__(self, missing: torch.Tensor):
        expect_tensor("missing", missing, ndim=4, channels=1, value_range=(0.0, 1.0))
        self.missing = missing
        self.keep = 1.0 - missing

    def forward(self, x):
        if x.shape[-2:] != self.keep.shape[-2:]:
            raise ValueError(
                f"mask operator: expected images of size {tuple(self.keep.shape[-2:])}, "
                f"got {tuple(x.shape[-2:])}"
            )
        return x * self.keep.to(x.device)

    def __repr__(self) -> str:
        return f"Mask(hole of {int(self.missing[0].sum())} pixels)"


class Value(Operator):
    """A(x) = V of HSV = max(R, G, B), one channel (the colorization operator of Yeh et al. 2018). Not
    linear."""

    name = "value"
    linear = False

    def forward(self, x):
        expect_tensor("value operator input", x, ndim=4, channels=3)
        return x.amax(dim=1, keepdim=True)


class Downsample(Operator):
    """Low-pass + decimation (the super-resolution operator of Yeh et al. 2018): Gaussian blur (sigma =
    factor / 2,
    reflected borders), then keep one pixel in ``factor`` x ``factor``, offset to the block centre."""

    name = "downsample"

    def __init__(self, factor: int = SR_FACTOR, sigma: float | None = None):
        self.factor = expect_positive_int("factor", factor, minimum=2)
        self.sigma = factor / 2 if sigma is None else float(sigma)
        if not self.sigma > 0:
            raise ValueError(f"sigma: expected a positive number, got {sigma!r}")
        self.taps = gaussian_window(2 * math.ceil(3 * self.sigma) + 1, self.sigma).float()
        # a normalised non-negative blur has norm <= 1, and keeping pixels does not increase it
        self.norm = 1.0

    def forward(self, x):
        b, c, h, w = x.shape
        if h % self.factor or w % self.factor:
            raise ValueError(f"downsample operator: expected a size divisible by {self.factor}, got {h}x{w}")
        r = (len(self.taps) - 1) // 2
        if r >= min(h, w):
            raise ValueError(f"downsample operator: images of {h}x{w} are too small for a blur of radius {r}")
        taps = self.taps.to(x)
        y = F.pad(x.reshape(b * c, 1, h, w), (r, r, r, r), mode="reflect")
        y = F.conv2d(y, taps.view(1, 1, 1, -1))
        y = F.conv2d(y, taps.view(1, 1, -1, 1))
        offset = self.factor // 2
        y = y[:, :, offset :: self.factor, offset :: self.factor]
        return y.reshape(b, c, h // self.factor, w // self.factor)

    def __repr__(self) -> str:
        return f"Downsample(factor={self.factor}, sigma={self.sigma:g})"


# ----------------------------------------------------------------------------------------------------------
# tasks: operator + corruption


class Corruption(Protocol):
    """Clean images (B, 3, H, W) -> the observation y; ``seed`` fixes any noise."""

    def __call__(self, x: torch.Tensor, seed: int = 0) -> torch.Tensor: ...


@dataclass
class Task:
    """One restoration task: its operator A and the corruption that made the observation y."""

    name: str
    A: Operator
    corrupt: Corruption
    description: str

    def show(self, y: torch.Tensor, size: int) -> torch.Tensor:
        """The observation as a (B, 3, size, size) picture (grey for V, pixel blocks for low resolution)."""
        if y.shape[1] == 1:
            y = y.expand(-1, 3, -1, -1)
        if y.shape[-1] != size:
            y = F.interpolate(y, size=(size, size), mode="nearest")
        return y


def hole_size(size: int) -> int:
    """The hole side of Yeh et al. 2018 scaled to the image: 32 in 64x64, 16 in 32x32."""
    return size // 2


def make_task(name: str, size: int = 64, batch: int = 1) -> Task:
    """The task ``name`` (one of ``TASKS``) for ``size`` x ``size`` faces, corrupted as in Yeh et al. 2018,
    section 4.1.

    The inpainting mask is the centred ``size/2`` hole for all ``batch`` images. Colorization observes
    y = V = max(R, G, B): the grey image the operator A predicts (Yeh et al. 2018 write "standard grayscale
    conversion"; with V on both sides the data term can be met exactly).
    """
    from .data import degrade

    expect_choice("task", name, TASKS)
    expect_positive_int("size", size, minimum=16)
    A: Operator
    if name == "inpainting":
        A = Mask(degrade.center_mask(size, hole_size(size), batch=1))
        return Task(name, A, lambda x, seed=0: A(x), f"centre {hole_size(size)}x{hole_size(size)} hole")
    if name == "colorization":
        A = Value()
        return Task(name, A, lambda x, seed=0: A(x), "grey (V = max(R, G, B))")
    if name == "super_resolution":
        A = Downsample(SR_FACTOR)
        low = size // SR_FACTOR
        return Task(name, A, lambda x, seed=0: A(x), f"x{SR_FACTOR} down ({low}x{low})")
    if name == "denoising":
        return Task(
            name, Identity(), lambda x, seed=0: degrade.gaussian_noise(x, NOISE_SIGMA, seed=seed),
            f"Gaussian noise sigma {NOISE_SIGMA}",
        )
    return Task(
        name, Identity(), lambda x, seed=0: degrade.quantize(x, QUANT_LEVELS),
        f"{QUANT_LEVELS} levels per channel",
    )


# ----------------------------------------------------------------------------------------------------------
# total variation by primal-dual (Chambolle and Pock 2011)


def gradient(x: torch.Tensor) -> torch.Tensor:
    """Forward differences with Neumann borders: (B, C, H, W) -> (B, C, 2, H, W) (d/dy, d/dx)."""
    dy = torch.zeros_like(x)
    dx = torch.zeros_like(x)
    dy[..., :-1, :] = x[..., 1:, :] - x[..., :-1, :]
    dx[..., :, :-1] = x[..., :, 1:] - x[..., :, :-1]
    return torch.stack((dy, dx), dim=2)


def divergence(p: torch.Tensor) -> torch.Tensor:
    """The negative adjoint of ``gradient``: <gradient(x), p> = -<x, divergence(p)> for all x, p."""
    py, px = p[:, :, 0], p[:, :, 1]
    div = torch.zeros_like(py)
    div[..., :-1, :] += py[..., :-1, :]
    div[..., 1:, :] -= py[..., :-1, :]
    div[..., :, :-1] += px[..., :, :-1]
    div[..., :, 1:] -= px[..., :, :-1]
    return div


def total_variation(x: torch.Tensor) -> torch.Tensor:
    """Isotropic TV per image: sum over pixels and channels of |grad x| (B,)."""
    expect_tensor("images", x, ndim=4)
    return gradient(x).pow(2).sum(2).sqrt().flatten(1).sum(1)


def tv_objective(x, y, A: Operator, lam: float) -> torch.Tensor:
    """lam * TV(x) + 1/2 ||A x - y||^2 per image (B,)."""
    return lam * total_variation(x) + 0.5 * (A(x) - y).pow(2).flatten(1).sum(1)


def tv_restore(
    y: torch.Tensor,
    A: Operator,
    lam: float,
    iters: int = 300,
    x0: torch.Tensor | None = None,
    like: torch.Tensor | None = None,
) -> torch.Tensor:
    """argmin over x in [0, 1] of lam * TV(x) + 1/2 ||A x - y||^2 (Chambolle-Pock, Algorithm 1, theta = 1).

    K = (gradient, A) stacked; F(u, v) = lam ||u||_{2,1} + 1/2 ||v - y||^2; G = the indicator of [0, 1]. Dual
    steps: the projection onto the lam-ball for u and (q - sigma y) / (1 + sigma) for v; primal step: clamp.
    Step sizes tau = sigma = 0.99 / ||K|| with ||K||^2 <= 8 + ||A||^2. ``like`` (or ``x0``) gives the shape of
    x when A changes it (super-resolution); by default x has y's shape.
    """
    expect_tensor("y", y, ndim=4)
    if not A.linear:
        raise ValueError(
            f"tv_restore: expected a linear operator, got {A.name} (TV has no colorization baseline)"
        )
    if not lam >= 0:
        raise ValueError(f"lam: expected a number >= 0, got {lam!r}")
    expect_positive_int("iters", iters)
    iters = dry_run_steps(iters)
    if x0 is None:
        x0 = (y if like is None else F.interpolate(y, size=like.shape[-2:], mode="bilinear")).clamp(0, 1)
    x = x0.clone()
    x_bar = x.clone()
    p = torch.zeros_like(gradient(x))
    q = torch.zeros_like(y)
    step = 0.99 / math.sqrt(8.0 + A.norm**2)
    tau = sigma = step
    with torch.no_grad():
        for _ in range(iters):
            p = p + sigma * gradient(x_bar)
            p = p / torch.clamp(p.pow(2).sum(2, keepdim=True).sqrt() / max(lam, 1e-12), min=1.0)
            q = (q + sigma * A(x_bar) - sigma * y) / (1 + sigma)
            x_new = (x + tau * divergence(p) - tau * A.adjoint(q, x)).clamp(0, 1)
            x_bar = 2 * x_new - x
            x = x_new
    return x


# ----------------------------------------------------------------------------------------------------------
# Poisson blending (Pérez et al. 2003)


def poisson_blend(target: torch.Tensor, source: torch.Tensor, missing: torch.Tensor) -> torch.Tensor:
    """Fill the hole of ``target`` with ``source``'s gradients: seamless cloning, one sparse solve.

    Inside the hole Omega (``missing`` == 1) solve the discrete Poisson equation
    ``4 f_p - sum_{q in N(p), q in Omega} f_q
    = sum_{q in N(p), q not in Omega} target_q + sum_{q in N(p)} (s_p - s_q)``
    (Pérez et al. 2003, Eq. 7 with the guidance field v = grad s); outside the hole f = target. One sparse
    matrix per image, factorised once (scipy's SuperLU) and solved for every channel. Inputs (B, C, H, W) or
    (C, H, W) in [0, 1]; ``missing`` (B or 1, 1, H, W) or (H, W). Returns the blend clipped to [0, 1].
    """
    import numpy as np
    import scipy.sparse as sp
    import scipy.sparse.linalg as spla

    single = target.ndim == 3
    t = expect_tensor("target", target, ndim=(3, 4))
    s = expect_tensor("source", source, ndim=(3, 4))
    if single:
        t, s = t[None], s[None]
    if t.shape != s.shape:
        raise ValueError(f"source: expected the target's shape {tuple(t.shape)}, got {tuple(s.shape)}")
    m = missing
    if m.ndim == 2:
        m = m[None, None]
    if m.ndim != 4 or m.shape[-2:] != t.shape[-2:] or m.shape[1] != 1:
        raise ValueError(
            f"missing: expected (B or 1, 1, {t.shape[-2]}, {t.shape[-1]}), got {tuple(missing.shape)}"
        )
    B, C, H, W = t.shape
    out = t.detach().cpu().double().numpy().copy()
    src = s.detach().cpu().double().numpy()
    masks = m.detach().cpu().numpy() > 0.5
    offsets = ((-1, 0), (1, 0), (0, -1), (0, 1))
    for b in range(B):
        hole = masks[b if masks.shape[0] > 1 else 0, 0].copy()
        hole[0, :] = hole[-1, :] = hole[:, 0] = hole[:, -1] = False  # the border stays the target's
        ys, xs = np.nonzero(hole)
        n = len(ys)
        if n == 0:
            continue
        index = -np.ones((H, W), dtype=np.int64)
        index[ys, xs] = np.arange(n)
        rows, cols, vals = [np.arange(n)], [np.arange(n)], [np.full(n, 4.0)]
        rhs = np.zeros((n, C))
        for dy, dx in offsets:
            ny, nx = ys + dy, xs + dx
            inside = index[ny, nx] >= 0
            rows.append(np.arange(n)[inside])
            cols.append(index[ny[inside], nx[inside]])
            vals.append(-np.ones(inside.sum()))
            rhs += (src[b][:, ys, xs] - src[b][:, ny, nx]).T  # guidance: the source's gradient
            rhs[~inside] += out[b][:, ny[~inside], nx[~inside]].T  # Dirichlet border: the target
        entries = (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols)))
        matrix = sp.csc_matrix(entries, shape=(n, n))
        solution = spla.splu(matrix).solve(rhs)
        out[b][:, ys, xs] = solution.T
    result = torch.from_numpy(out).to(target.dtype).clamp(0, 1).to(target.device)
    return result[0] if single else result


__all__ = [
    "TASKS",
    "Downsample",
    "Identity",
    "Mask",
    "Operator",
    "Task",
    "Value",
    "divergence",
    "gradient",
    "hole_size",
    "make_task",
    "poisson_blend",
    "total_variation",
    "tv_objective",
    "tv_restore",
]
