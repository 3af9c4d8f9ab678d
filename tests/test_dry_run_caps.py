"""A dry run (COURSEKIT_MAX_STEPS=N) caps the optimisation loops that run inside coursekit, not in ``fit``:
the GAN-prior restoration (and each phase of its latent expansion) and the TV solver."""

import pytest
import torch

from coursekit import restoration as R
from coursekit.nn import dcgan
from coursekit.nn import gan_prior as gp


@pytest.fixture(scope="module")
def gan():
    G, D = dcgan.build(size=16, channels=3, ngf=8, ndf=8, seed=0)
    return G.eval(), D.eval()


def test_restore_and_latent_expansion_stop_at_the_cap(gan, monkeypatch):
    G, D = gan
    A = R.make_task("denoising", 16).A
    y = A(torch.rand(2, 3, 16, 16, generator=torch.Generator().manual_seed(0)))
    monkeypatch.setenv("COURSEKIT_MAX_STEPS", "2")
    run = gp.restore(G, D, A, y, steps=1000, restarts=2, snapshot_at=(0, 1))
    assert len(run.history) == 2 and sorted(run.snapshots) == [0, 1]
    phases = gp.expand_restore(G, D, A, y, steps=(1000, 300, 300), restarts=2)
    assert [len(ph.history) for ph in phases] == [2, 2, 2]
    monkeypatch.delenv("COURSEKIT_MAX_STEPS")
    assert len(gp.restore(G, D, A, y, steps=3, restarts=1).history) == 3


def test_tv_restore_stops_at_the_cap(monkeypatch):
    y = torch.rand(1, 3, 16, 16, generator=torch.Generator().manual_seed(1))
    two = R.tv_restore(y, R.Identity(), 0.1, iters=2)
    monkeypatch.setenv("COURSEKIT_MAX_STEPS", "2")
    assert torch.equal(R.tv_restore(y, R.Identity(), 0.1, iters=500), two)
