"""Restoration with a GAN prior (Yeh et al. 2018, ICASSP): MAP estimation in a DCGAN's latent space.

Given an observation y = A(x) of a face x (``coursekit.restoration`` has the operators A), search the latent
space of a trained generator G for the code whose image explains y and that the discriminator D finds real:

    z* = argmin_z  ||y - A(G(z))||_1  +  lam * ( log(1 - D(G(z))) - log D(G(z)) - log p(z) ),   x* = G(z*)

(Yeh et al. 2018, Eq. 3). With D(x) = sigmoid(l(x)) (our discriminators return logits l), the first two prior
terms
are ``-softplus(l) + softplus(-l) = -l``: the prior rewards a high logit. With p(z) = N(0, I), the latent
distribution DCGAN is trained with, -log p(z) = ||z||^2 / 2 + const. The L1 norm is summed over pixels, as
||.||_1 is. Gradient steps (Adam) on z from several random starts ("restarts"); the best start per image wins.

Progressive latent expansion (the benchmark of Trpceski & Gleason 2025, "w, then w+, then w++"): after
optimising z, free the
generator's intermediate features one level deeper and go on optimising them; each level can fit y better
(fidelity) but leaves the set of images G can make, so realism can drop. ``StagedGenerator`` splits a
``coursekit.nn.dcgan.Generator`` into those levels; ``expand_restore`` runs the phases.

The prior itself is module 02's DCGAN (``coursekit.nn.dcgan``) trained on ``coursekit.data.faces``;
``load_or_train_prior`` caches it as a checkpoint and retrains it when the file is missing.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from ..config import dry_run_steps
from ..errors import expect_positive_int, expect_tensor
from . import dcgan

LEVELS = ("w", "w+", "w++")  # z, the first block's features, the second block's features


# ----------------------------------------------------------------------------------------------------------
# the objective (Yeh et al. 2018, Eq. 3)


def data_term(y: torch.Tensor, Ax: torch.Tensor) -> torch.Tensor:
    """||y - A(G(z))||_1 per image (B,): absolute errors summed over channels and pixels."""
    expect_tensor("y", y, ndim=4)
    expect_tensor("A(G(z))", Ax, ndim=4)
    if y.shape != Ax.shape:
        raise ValueError(f"A(G(z)): expected the observation's shape {tuple(y.shape)}, got {tuple(Ax.shape)}")
    return (y - Ax).abs().flatten(1).sum(1)


def prior_term(logits: torch.Tensor, z: torch.Tensor | None = None) -> torch.Tensor:
    """log(1 - D(x)) - log D(x) - log p(z) per image (B,), from D's logits and z ~ N(0, I).

    log D = -softplus(-l) and log(1 - D) = -softplus(l), so the D part equals -l exactly (computed in the
    paper's form so it can be read against Eq. 3). -log p(z) = ||z||^2 / 2 (the constant dropped); ``z=None``
    leaves it out (the features of the expanded phases have no p).
    """
    logits = expect_tensor("logits", logits, ndim=(1, 2)).reshape(len(logits), -1).mean(1)
    log_d = -F.softplus(-logits)
    log_one_minus_d = -F.softplus(logits)
    term = log_one_minus_d - log_d
    if z is not None:
        if len(z) != len(logits):
            raise ValueError(f"z: expected {len(logits)} codes (one per logit), got {len(z)}")
        term = term + 0.5 * z.flatten(1).pow(2).sum(1)
    return term


def latent_objective(G, D, A, y: torch.Tensor, z: torch.Tensor, lam: float):
    """Yeh et al. 2018, Eq. 3 per image: returns (loss (B,), images G(z)).

    Gradients flow to z (and to G, D if they are not frozen).
    """
    x = G(z)
    return data_term(y, A(x)) + lam * prior_term(D(x), z), x


@contextlib.contextmanager
def frozen(*modules: nn.Module):
    """Eval mode and no parameter gradients inside the block; the previous state is restored afterwards."""
    saved = [(m, m.training, [p.requires_grad for p in m.parameters()]) for m in modules]
    try:
        for m in modules:
            m.eval()
            m.requires_grad_(False)
        yield
    finally:
        for m, training, flags in saved:
            m.train(training)
            for p, flag in zip(m.parameters(), flags, strict=True):
                p.requires_grad_(flag)


def latent_step(G, D, A, y, z: torch.Tensor, optimizer: torch.optim.Optimizer, lam: float) -> torch.Tensor:
    """One gradient step on z (a leaf tensor the optimizer holds).

    Returns the loss per image before the step.
    """
    optimizer.zero_grad(set_to_none=True)
    loss, _ = latent_objective(G, D, A, y, z, lam)
    loss.sum().backward()  # the images are independent: the sum's gradient is each image's own gradient
    optimizer.step()
    return loss.detach()


@dataclass
class Restoration:
    """The result of ``restore``: best image and code per observation, and what happened on the way."""

    x: torch.Tensor  # (N, C, H, W) the restored images G(z*)
    z: torch.Tensor  # (N, z_dim) the best code per image
    loss: torch.Tensor  # (N,) the objective at z*
    restart_losses: torch.Tensor  # (N, R) the final objective of every restart
    history: list = field(default_factory=list)  # mean best loss per step
    snapshots: dict = field(default_factory=dict)  # step -> (N, C, H, W) best image at that step


def _best(values: torch.Tensor, n: int, restarts: int):
    per = values.reshape(n, restarts)
    return per, per.argmin(1)


def restore(
    G,
    D,
    A,
    y: torch.Tensor,
    lam: float = 0.1,
    steps: int = 500,
    restarts: int = 4,
    lr: float = 0.05,
    seed: int = 0,
    snapshot_at=(),
    z_init: torch.Tensor | None = None,
) -> Restoration:
    """The restoration of Yeh et al. 2018: minimise Eq. 3 over z with Adam from ``restarts`` random starts
    per image.

    ``y``: (N, ...) observations (what ``A`` returns for a batch of N images). The starts z ~ N(0, I) are
    drawn on the CPU from ``seed``; all N x R codes are optimised together in one batch (G and D in eval mode,
    frozen, so the codes do not interact). Returns the best restart per image at the end.
    ``snapshot_at``: steps at which to keep the current best image of each observation (0 = the start).
    """
    expect_tensor("y", y, ndim=4)
    steps = expect_positive_int("steps", steps, minimum=0)
    steps = dry_run_steps(steps)
    restarts = expect_positive_int("restarts", restarts)
    if not lam >= 0:
        raise ValueError(f"lam: expected a number >= 0, got {lam!r}")
    device = next(G.parameters()).device
    n = len(y)
    y_rep = y.to(device).repeat_interleave(restarts, 0)
    if z_init is None:
        z_init = torch.randn(n * restarts, G.z_dim, generator=torch.Generator().manual_seed(seed))
    elif z_init.shape != (n * restarts, G.z_dim):
        raise ValueError(f"z_init: expected shape ({n * restarts}, {G.z_dim}), got {tuple(z_init.shape)}")
    z = z_init.clone().to(device).requires_grad_(True)
    optimizer = torch.optim.Adam([z], lr=lr)
    history, snapshots = [], {}
    marks = set(int(s) for s in snapshot_at)
    with frozen(G, D):
        for step in range(steps + 1):
            last = step == steps
            if step in marks or last:
                with torch.no_grad():
                    loss, x = latent_objective(G, D, A, y_rep, z, lam)
                per, best = _best(loss, n, restarts)
                x_best = x.reshape(n, restarts, *x.shape[1:])[torch.arange(n), best]
                if step in marks:
                    snapshots[step] = x_best.cpu()
                if last:
                    break
            loss = latent_step(G, D, A, y_rep, z, optimizer, lam)
            history.append(float(loss.reshape(n, restarts).min(1).values.mean()))
    z_best = z.detach().reshape(n, restarts, -1)[torch.arange(n), best]
    return Restoration(x_best.detach(), z_best, per.min(1).values, per, history, snapshots)


# ----------------------------------------------------------------------------------------------------------
# progressive latent expansion (Trpceski & Gleason 2025: w, w+, w++)


class StagedGenerator(nn.Module):
    """A DCGAN generator cut into blocks so its intermediate features can be optimised directly.

    Level 0 is z (the paper's latent, "w"); level k >= 1 is the output of the k-th ConvT-BN-ReLU block
    (level 1: the 4x4 map, "w+"; level 2: the 8x8 map, "w++"). ``features(z, k)`` computes level k from z,
    ``decode(h, k)`` runs the rest of the network: ``decode(features(z, k), k) == G(z)``.
    """

    def __init__(self, generator: dcgan.Generator):
        super().__init__()
        if not isinstance(generator, dcgan.Generator):
            raise TypeError(
                f"generator: expected a coursekit.nn.dcgan.Generator, got {type(generator).__name__}"
            )
        self.generator = generator
        self.z_dim = generator.z_dim
        layers = list(generator.main)
        blocks, current = [], []
        for layer in layers:
            current.append(layer)
            if isinstance(layer, (nn.ReLU, nn.Tanh)):
                blocks.append(nn.Sequential(*current))
                current = []
        self.blocks = nn.ModuleList(blocks)  # shares the generator's layers

    @property
    def n_levels(self) -> int:
        return len(self.blocks)  # levels 0 .. n_levels - 1 can be optimised

    def _level(self, level: int) -> int:
        if isinstance(level, bool) or not isinstance(level, int):
            raise TypeError(f"level: expected an int in [0, {self.n_levels - 1}], got {level!r}")
        if not 0 <= level < self.n_levels:
            raise ValueError(f"level: expected an int in [0, {self.n_levels - 1}], got {level!r}")
        return level

    def features(self, z: torch.Tensor, level: int) -> torch.Tensor:
        h = z.reshape(len(z), self.z_dim, 1, 1)
        for block in self.blocks[: self._level(level)]:
            h = block(h)
        return h

    def decode(self, h: torch.Tensor, level: int) -> torch.Tensor:
        for block in self.blocks[self._level(level) :]:
            h = block(h)
        return (h + 1) / 2

    def forward(self, z):
        return self.generator(z)


@dataclass
class Phase:
    level: str
    x: torch.Tensor  # (N, C, H, W)
    fidelity: torch.Tensor  # (N,) ||y - A(x)||_1 / number of observed values
    realism: torch.Tensor  # (N,) D(x), the discriminator's probability that x is real
    history: list


def expand_restore(
    G,
    D,
    A,
    y: torch.Tensor,
    lam: float = 0.1,
    steps=(300, 150, 150),
    lrs=(0.05, 0.02, 0.005),
    restarts: int = 4,
    seed: int = 0,
) -> list[Phase]:
    """The robust inversion of Trpceski & Gleason 2025, for a DCGAN: phase "w" optimises z (``restore``),
    then phase "w+" the
    level-1 features and phase "w++" the level-2 features, each starting where the previous phase ended.

    Step sizes default to the 0.08 / 0.02 / 0.005 pattern of Trpceski & Gleason 2025 (the first is ours). The
    expanded phases
    minimise ||y - A(x)||_1 + lam * (log(1 - D(x)) - log D(x)) (no p(z): features have no density).
    Returns one ``Phase`` per level with the images, the fidelity and D's realism score.
    """
    if len(steps) != len(lrs) or not 1 <= len(steps) <= len(LEVELS):
        raise ValueError(
            f"steps, lrs: expected 1 to {len(LEVELS)} phases of equal length, got {steps!r}, {lrs!r}"
        )
    steps = tuple(dry_run_steps(s) for s in steps)
    staged = StagedGenerator(G)
    phases = []
    with frozen(G, D):
        result = restore(G, D, A, y, lam=lam, steps=steps[0], restarts=restarts, lr=lrs[0], seed=seed)
        phases.append(_phase(LEVELS[0], result.x, y, A, D, result.history))
        h_prev, level_prev = result.z.to(next(G.parameters()).device), 0
        for level in range(1, len(steps)):
            h = staged.features(h_prev, level) if level_prev == 0 else staged.blocks[level - 1](h_prev)
            h = h.detach().clone().requires_grad_(True)
            optimizer = torch.optim.Adam([h], lr=lrs[level])
            history = []
            for _ in range(steps[level]):
                optimizer.zero_grad(set_to_none=True)
                x = staged.decode(h, level)
                loss = data_term(y, A(x)) + lam * prior_term(D(x))
                loss.sum().backward()
                optimizer.step()
                history.append(float(loss.detach().mean()))
            with torch.no_grad():
                x = staged.decode(h, level)
            phases.append(_phase(LEVELS[level], x, y, A, D, history))
            h_prev, level_prev = h.detach(), level
    return phases


def _phase(level, x, y, A, D, history) -> Phase:
    with torch.no_grad():
        fidelity = data_term(y, A(x)) / y[0].numel()
        realism = torch.sigmoid(D(x).reshape(len(x), -1).mean(1))
    return Phase(level, x.detach().cpu(), fidelity.cpu(), realism.cpu(), history)


# ----------------------------------------------------------------------------------------------------------
# the prior: module 02's DCGAN trained on faces, cached as a checkpoint


def recalibrate_batchnorm(
    G: dcgan.Generator, n: int = 4096, batch: int = 256, seed: int = 0
) -> dcgan.Generator:
    """Re-estimate G's batch-norm running statistics as exact averages over ``n`` codes z ~ N(0, I).

    During training the running averages trail the changing weights (momentum 0.1); eval-mode samples then
    look worse than train-mode ones. Restoration needs eval mode (the codes of a batch must not interact).
    """
    bns = [m for m in G.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    saved = [(m, m.momentum) for m in bns]
    gen = torch.Generator().manual_seed(seed)
    device = next(G.parameters()).device
    was_training = G.training
    G.train()
    for m in bns:
        m.reset_running_stats()
        m.momentum = None  # cumulative average
    with torch.no_grad():
        for start in range(0, n, batch):
            G(torch.randn(min(batch, n - start), G.z_dim, generator=gen).to(device))
    for m, momentum in saved:
        m.momentum = momentum
    G.train(was_training)
    return G


PRIOR_DEFAULTS = dict(
    size=32, ngf=24, ndf=16, steps=1000, batch=64, lr=1e-3, n_faces=4096, seed=0, bn_codes=4096
)


def prior_path(config: dict, directory: str | Path | None = None) -> Path:
    """The checkpoint file of a prior: ``<checkpoint_root>/gan_prior/dcgan_faces_<size>_<hash>.pt``."""
    from .. import checkpoint_root

    directory = Path(directory) if directory is not None else checkpoint_root() / "gan_prior"
    key = hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest()[:10]
    return directory / f"dcgan_faces_{config['size']}_{config['steps']}steps_{key}.pt"


def train_prior(images: torch.Tensor, config: dict, device=None, progress: bool = True, callbacks=()):
    """Train module 02's DCGAN on ``images`` with ``config`` (keys of ``PRIOR_DEFAULTS``).

    Returns (G, D, history).

    One D step and one G step per batch (``coursekit.train.gan_step``, non-saturating loss), Adam with
    beta1 = 0.5 and the config's learning rate, random horizontal flips (Yeh et al. 2018, section 3.2), then
    ``recalibrate_batchnorm`` over ``bn_codes`` codes.
    """
    from torch.utils.data import DataLoader, TensorDataset

    from .. import train

    expect_tensor("images", images, ndim=4, channels=3)
    cfg = {**PRIOR_DEFAULTS, **config}
    G, D = dcgan.build(size=cfg["size"], channels=3, ngf=cfg["ngf"], ndf=cfg["ndf"], seed=cfg["seed"])
    device = device or torch.device("cpu")
    G, D = G.to(device), D.to(device)
    opt_g, opt_d = dcgan.optimizers(G, D, lr=cfg["lr"])
    flipped = torch.cat([images, images.flip(-1)])
    loader = DataLoader(TensorDataset(flipped), batch_size=cfg["batch"], shuffle=True, drop_last=True,
                        generator=torch.Generator().manual_seed(cfg["seed"]))
    step = train.gan_step(G, D, opt_g, opt_d, z_dim=G.z_dim)
    result = train.fit(step, loader, cfg["steps"], callbacks=callbacks, seed=cfg["seed"], progress=progress,
                       desc=f"DCGAN face prior {cfg['size']}x{cfg['size']}")
    recalibrate_batchnorm(G, n=cfg["bn_codes"], seed=cfg["seed"])
    return G.eval(), D.eval(), result.history


def load_or_train_prior(images_fn, config: dict | None = None, directory=None, device=None,
                        progress: bool = True, callbacks=()):
    """The cached face prior for ``config``, or a freshly trained one (then saved atomically).

    ``images_fn(n, size)`` returns the training faces (called only when training is needed). Returns
    (G, D, info) where info has ``source`` ("checkpoint" or "trained"), ``path``, ``seconds`` and ``history``.
    """
    from ..checkpoint import load_checkpoint, load_module_state, save

    cfg = {**PRIOR_DEFAULTS, **(config or {})}
    path = prior_path(cfg, directory)
    device = device or torch.device("cpu")
    if path.exists():
        try:
            state = load_checkpoint(path, map_location=device)
            G, D = dcgan.build(size=cfg["size"], channels=3, ngf=cfg["ngf"], ndf=cfg["ndf"], seed=cfg["seed"])
            load_module_state(G, state["G"], f"prior checkpoint {path.name}, G")
            load_module_state(D, state["D"], f"prior checkpoint {path.name}, D")
            info = dict(source="checkpoint", path=str(path), seconds=float(state.get("seconds", 0.0)),
                        history={k: list(v) for k, v in state.get("history", {}).items()})
            return G.to(device).eval(), D.to(device).eval(), info
        except (ValueError, RuntimeError, KeyError) as error:
            reason = str(error).splitlines()[0]
            print(f"prior checkpoint {path} unusable ({reason}); retraining, then replacing it")
    start = time.perf_counter()
    G, D, history = train_prior(images_fn(cfg["n_faces"], cfg["size"]), cfg, device, progress, callbacks)
    seconds = time.perf_counter() - start
    history = {k: [float(v) for v in vals] for k, vals in history.items()}
    save(path, G=G.state_dict(), D=D.state_dict(), config=cfg, seconds=seconds, history=history)
    return G, D, dict(source="trained", path=str(path), seconds=seconds, history=history)


__all__ = [
    "LEVELS",
    "PRIOR_DEFAULTS",
    "Phase",
    "Restoration",
    "StagedGenerator",
    "data_term",
    "expand_restore",
    "frozen",
    "latent_objective",
    "latent_step",
    "load_or_train_prior",
    "prior_path",
    "prior_term",
    "recalibrate_batchnorm",
    "restore",
    "train_prior",
]
