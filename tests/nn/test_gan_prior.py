"""coursekit.nn.gan_prior: the latent MAP objective of Yeh et al. (seed 004), restarts, latent expansion."""

import pytest
import torch

from coursekit import restoration as R
from coursekit.checkpoint import save
from coursekit.nn import dcgan
from coursekit.nn import gan_prior as gp


@pytest.fixture(scope="module")
def gan():
    G, D = dcgan.build(size=16, channels=3, ngf=8, ndf=8, seed=0)
    gp.recalibrate_batchnorm(G, n=256, batch=128)
    return G.eval(), D.eval()


def test_prior_term_is_minus_the_logit_plus_half_z_squared():
    logits = torch.tensor([-3.0, 0.0, 2.5, 40.0])
    z = torch.randn(4, 100, generator=torch.Generator().manual_seed(0))
    d = torch.sigmoid(logits.double())
    paper = torch.log(1 - d) - torch.log(d)  # seed 004, Eq. 3, in probabilities
    assert torch.allclose(gp.prior_term(logits)[:3].double(), paper[:3], atol=1e-5)
    assert torch.allclose(gp.prior_term(logits), -logits)  # finite even where D = 1 in float32
    expected = -logits + 0.5 * (z**2).sum(1)  # -log N(z; 0, I) up to a constant
    assert torch.allclose(gp.prior_term(logits, z), expected, rtol=1e-5)


def test_data_term_is_the_l1_norm_summed_over_pixels():
    y, ax = torch.zeros(2, 1, 4, 4), torch.full((2, 1, 4, 4), 0.5)
    assert torch.equal(gp.data_term(y, ax), torch.tensor([8.0, 8.0]))
    expected = r"expected the observation's shape \(2, 1, 4, 4\), got \(2, 3, 4, 4\)"
    with pytest.raises(ValueError, match=expected):
        gp.data_term(y, torch.zeros(2, 3, 4, 4))


def test_latent_objective_agrees_with_eq_3(gan):
    G, D = gan
    A = R.make_task("inpainting", 16).A
    z = torch.randn(3, 100, generator=torch.Generator().manual_seed(1))
    y = A(torch.rand(3, 3, 16, 16, generator=torch.Generator().manual_seed(2)))
    with torch.no_grad():
        loss, x = gp.latent_objective(G, D, A, y, z, lam=0.3)
        d = torch.sigmoid(D(G(z)))
        by_hand = (y - A(G(z))).abs().sum((1, 2, 3)) + 0.3 * (
            torch.log(1 - d) - torch.log(d) + 0.5 * (z**2).sum(1))
    assert torch.allclose(loss, by_hand, rtol=1e-4, atol=1e-3)
    assert x.shape == (3, 3, 16, 16)


def test_restore_lowers_the_objective_and_picks_the_best_restart(gan):
    G, D = gan
    A = R.make_task("super_resolution", 16).A
    with torch.no_grad():
        target = G(torch.randn(2, 100, generator=torch.Generator().manual_seed(5)))
    y = A(target)
    result = gp.restore(G, D, A, y, lam=0.01, steps=40, restarts=3, lr=0.05, seed=0, snapshot_at=(0, 20))
    assert result.x.shape == (2, 3, 16, 16) and result.z.shape == (2, 100)
    assert result.restart_losses.shape == (2, 3)
    assert torch.equal(result.loss, result.restart_losses.min(1).values)
    assert result.history[-1] < 0.7 * result.history[0]
    assert set(result.snapshots) == {0, 20}
    with torch.no_grad():  # the returned code makes the returned image, with the returned loss
        loss, x = gp.latent_objective(G, D, A, y, result.z, 0.01)
    assert torch.allclose(x, result.x, atol=1e-5) and torch.allclose(loss, result.loss, rtol=1e-4)
    assert all(p.requires_grad for p in G.parameters()) and not G.training  # state restored


def test_restore_is_seeded_and_independent_of_batch_neighbours(gan):
    G, D = gan
    A = R.Identity()
    y = torch.rand(2, 3, 16, 16, generator=torch.Generator().manual_seed(3))
    a = gp.restore(G, D, A, y, steps=5, restarts=2, seed=7)
    b = gp.restore(G, D, A, y, steps=5, restarts=2, seed=7)
    assert torch.equal(a.x, b.x)
    # eval-mode batch norm: restoring the first image alone gives the same result
    z0 = torch.randn(4, 100, generator=torch.Generator().manual_seed(7))[:2]
    alone = gp.restore(G, D, A, y[:1], steps=5, restarts=2, z_init=z0)
    assert torch.allclose(alone.x, a.x[:1], atol=1e-5)


def test_latent_step_moves_z_downhill(gan):
    G, D = gan
    A = R.Value()
    y = A(torch.rand(2, 3, 16, 16, generator=torch.Generator().manual_seed(4)))
    z = torch.randn(2, 100, generator=torch.Generator().manual_seed(0)).requires_grad_(True)
    opt = torch.optim.SGD([z], lr=1e-3)
    with gp.frozen(G, D):
        before = gp.latent_step(G, D, A, y, z, opt, lam=0.1)
        after, _ = gp.latent_objective(G, D, A, y, z, 0.1)
    assert float(after.detach().sum()) < float(before.sum())


def test_staged_generator_reproduces_g_at_every_level(gan):
    G, _ = gan
    staged = gp.StagedGenerator(G)
    z = torch.randn(2, 100, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        for level in range(staged.n_levels):
            assert torch.allclose(staged.decode(staged.features(z, level), level), G(z), atol=1e-6)
        assert staged.features(z, 1).shape == (2, 16, 4, 4) and staged.features(z, 2).shape == (2, 8, 8, 8)
    with pytest.raises(ValueError, match="level: expected an int in"):
        staged.features(z, 7)
    with pytest.raises(TypeError, match="level: expected an int in"):
        staged.features(z, 1.0)


def test_expansion_improves_fidelity(gan):
    G, D = gan
    A = R.make_task("denoising", 16).A
    y = torch.rand(2, 3, 16, 16, generator=torch.Generator().manual_seed(9))  # not in G's range
    phases = gp.expand_restore(G, D, A, y, lam=0.01, steps=(20, 20, 20), lrs=(0.05, 0.02, 0.02), restarts=2)
    assert [p.level for p in phases] == ["w", "w+", "w++"]
    fid = [float(p.fidelity.mean()) for p in phases]
    assert fid[2] < fid[1] < fid[0]
    assert all(p.realism.shape == (2,) and 0 <= float(p.realism.min()) <= 1 for p in phases)


def test_bn_recalibration_gives_exact_batch_averages():
    G, _ = dcgan.build(size=16, ngf=8, ndf=8, seed=1)
    gp.recalibrate_batchnorm(G, n=64, batch=64, seed=3)
    bn = G.main[1]
    z = torch.randn(64, 100, generator=torch.Generator().manual_seed(3))
    h = G.main[0](z[:, :, None, None])
    assert torch.allclose(bn.running_mean, h.mean((0, 2, 3)), atol=1e-5)
    assert bn.momentum == 0.1


def test_prior_is_trained_once_then_loaded(tmp_path):
    faces = torch.rand(64, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    calls = []

    def images_fn(n, size):
        calls.append((n, size))
        return faces

    config = dict(size=16, ngf=8, ndf=8, steps=3, batch=16, n_faces=64, bn_codes=128)
    G1, D1, info1 = gp.load_or_train_prior(images_fn, config, directory=tmp_path, progress=False)
    G2, D2, info2 = gp.load_or_train_prior(images_fn, config, directory=tmp_path, progress=False)
    assert (info1["source"], info2["source"]) == ("trained", "checkpoint") and calls == [(64, 16)]
    assert info1["path"] == info2["path"] and len(info2["history"]["loss_d"]) == 3
    for a, b in zip(G1.state_dict().values(), G2.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    z = torch.randn(2, 100)
    with torch.no_grad():
        assert torch.allclose(G1(z), G2(z)) and torch.allclose(D1(G1(z)), D2(G1(z)))


def test_bad_input_names_expected_and_actual(gan):
    G, D = gan
    with pytest.raises(ValueError, match="lam: expected a number >= 0"):
        gp.restore(G, D, R.Identity(), torch.rand(1, 3, 16, 16), lam=-1.0)
    with pytest.raises(ValueError, match=r"z_init: expected shape \(2, 100\)"):
        gp.restore(G, D, R.Identity(), torch.rand(1, 3, 16, 16), restarts=2, z_init=torch.zeros(3, 100))
    with pytest.raises(TypeError, match="expected a coursekit.nn.dcgan.Generator"):
        gp.StagedGenerator(torch.nn.Linear(2, 2))


def test_a_stale_prior_checkpoint_is_refused_by_name_and_retrained(tmp_path, capsys):
    faces = torch.rand(32, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    config = dict(size=16, ngf=4, ndf=4, steps=2, batch=16, n_faces=32, bn_codes=32)
    G, D, _ = gp.load_or_train_prior(lambda n, size: faces, config, directory=tmp_path, progress=False)
    path = gp.prior_path({**gp.PRIOR_DEFAULTS, **config}, tmp_path)
    old_layout = {k.replace("main.", "net."): v for k, v in G.state_dict().items()}  # before net -> main
    save(path, G=old_layout, D=D.state_dict(), config={}, seconds=0.0, history={})
    capsys.readouterr()
    _, _, info = gp.load_or_train_prior(lambda n, size: faces, config, directory=tmp_path, progress=False)
    printed = capsys.readouterr().out
    assert info["source"] == "trained"
    assert "unusable" in printed and "missing main.0.weight" in printed
    assert "unexpected net.0.weight" in printed
    assert gp.load_or_train_prior(lambda n, size: faces, config, directory=tmp_path, progress=False)[2][
        "source"] == "checkpoint"  # the retrained prior replaced the stale file
