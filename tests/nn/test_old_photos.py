"""Module 10 (old photos): the three domains, the VAEs, the partial nonlocal mapping, baselines, losses."""

from __future__ import annotations

import pytest
import torch

from coursekit import losses as L
from coursekit.data import degrade
from coursekit.data.old_photos import clean_images, dust, film_grain, real_old, synthetic_old, vignette
from coursekit.nn.old_photos import (
    LatentDiscriminator,
    Mapping,
    PartialNonLocal,
    RepairNet,
    SpatialVAE,
    TripletRestorer,
    before_after,
    classical_restore,
    count_parameters,
    downsample_mask,
)


def _images(n=4, size=16, seed=0):
    return torch.rand(n, 3, size, size, generator=torch.Generator().manual_seed(seed))


# ------------------------------------------------------------------------------------------------ data
def test_domains_are_seeded_in_range_and_differ():
    y = _images(6, 16)
    x1, m1 = synthetic_old(y, seed=3)
    x2, m2 = synthetic_old(y, seed=3)
    assert torch.equal(x1, x2) and torch.equal(m1, m2)
    r, mr = real_old(y, seed=3)
    for t in (x1, r):
        assert t.shape == y.shape and 0 <= float(t.min()) and float(t.max()) <= 1
    assert m1.shape == mr.shape == (6, 1, 16, 16)
    assert float(mr.mean()) > float(m1.mean()), "R has heavier scratches than X"
    # R is sepia toned: red above blue on average, much more than in X
    assert float((r[:, 0] - r[:, 2]).mean()) > float((x1[:, 0] - x1[:, 2]).mean()) + 0.05


def test_film_grain_vignette_and_dust():
    grey = torch.full((2, 3, 32, 32), 0.5)
    grainy = film_grain(grey, 0.05, seed=1)
    assert torch.allclose(grainy[:, 0], grainy[:, 1]), "monochrome grain: the same in every channel"
    assert 0.03 < float((grainy - grey).std()) < 0.08
    dark = film_grain(torch.full((1, 3, 32, 32), 0.1), 0.05, seed=1)
    light = film_grain(torch.full((1, 3, 32, 32), 0.9), 0.05, seed=1)
    assert float((dark - 0.1).std()) > float((light - 0.9).std()), "grain is stronger in the shadows"
    v = vignette(torch.ones(1, 3, 9, 9), 0.5)
    assert float(v[0, 0, 4, 4]) == pytest.approx(1.0) and float(v[0, 0, 0, 0]) == pytest.approx(0.5)
    specks, mask = dust(grey, 5, seed=2)
    changed = (specks != grey).any(1, keepdim=True)
    assert torch.equal(changed, mask.bool()) and mask.sum() > 0


def test_clean_images_splits_and_bad_input():
    y = clean_images(8, 16, "test", seed=0, source="photos")
    assert y.shape == (8, 3, 16, 16) and float(y.max()) <= 1
    with pytest.raises(ValueError, match="source"):
        clean_images(4, 16, source="paintings")
    with pytest.raises(ValueError, match="3 channels"):
        synthetic_old(torch.rand(2, 1, 16, 16), seed=0)


# ------------------------------------------------------------------------------------------------ models
def test_spatial_vae_shapes_and_paper_size():
    vae = SpatialVAE(width=8, z_dim=4, n_blocks=1)
    recon, mu, logvar = vae(_images(2, 16), generator=torch.Generator().manual_seed(0))
    assert recon.shape == (2, 3, 16, 16) and mu.shape == logvar.shape == (2, 4, 4, 4)
    assert 0 <= float(recon.detach().min()) and float(recon.detach().max()) <= 1
    # the paper's VAE: width 64, 64 latent channels, 4 ResBlocks of 256 channels
    # (each ResBlock: two 3x3 convs 256 -> 256 with bias, two affine instance norms)
    paper = SpatialVAE(width=64, z_dim=64, n_blocks=4)
    res_block = 2 * (256 * 256 * 9 + 256) + 2 * 2 * 256
    assert count_parameters(paper.encoder[9]) == res_block
    assert count_parameters(paper) > 8 * res_block
    with pytest.raises(ValueError, match="divisible by 4"):
        vae.encode(torch.rand(1, 3, 18, 18))
    with pytest.raises(ValueError, match="4 channels"):
        vae.decode(torch.rand(1, 5, 4, 4))


def test_partial_nonlocal_ignores_masked_positions():
    torch.manual_seed(0)
    block = PartialNonLocal(8)
    f = torch.randn(2, 8, 4, 4)
    assert torch.equal(block(f), f), "nu starts at zero: the block starts as the identity"
    mask = torch.zeros(2, 1, 16, 16)
    mask[:, :, :4, :] = 1  # the first latent row (4 positions) is scratched
    with torch.no_grad():
        s = block.attention(f, mask)
    assert s.shape == (2, 16, 16)
    assert torch.allclose(s.sum(-1), torch.ones(2, 16))
    assert float(s[..., :4].max()) == 0, "scratched positions get no attention"
    # reference formula: s_ij = (1 - m_j) exp(l_ij) / sum_k (1 - m_k) exp(l_ik)
    q = block.theta(f).flatten(2).transpose(1, 2)
    k = block.phi(f).flatten(2)
    keep = 1 - downsample_mask(mask, (4, 4)).flatten(1)
    e = torch.exp(q @ k) * keep[:, None, :]
    assert torch.allclose(s, e / e.sum(-1, keepdim=True), atol=1e-5)
    # masked features do not influence unmasked outputs' attention-weighted values
    torch.nn.init.normal_(block.nu.weight)
    g = f.clone()
    g[:, :, 0, :] += 10  # change only the scratched row
    out_f, out_g = block(f, mask), block(g, mask)
    assert torch.allclose(out_f[:, :, 1:], out_g[:, :, 1:], atol=1e-4)
    everything = torch.ones(2, 1, 16, 16)
    assert torch.isfinite(block(f, everything)).all()


def test_downsample_mask_keeps_thin_scratches():
    mask = torch.zeros(1, 1, 16, 16)
    mask[0, 0, 5, :] = 1
    small = downsample_mask(mask, (4, 4))
    assert small.shape == (1, 1, 4, 4) and torch.equal(small[0, 0, 1], torch.ones(4))


def test_mapping_restorer_repairnet_shapes():
    vae1, vae2 = SpatialVAE(width=8, z_dim=4, n_blocks=1), SpatialVAE(width=8, z_dim=4, n_blocks=1)
    mapping = Mapping(4, 16, 1, 1)
    x, mask = _images(2, 16), (torch.rand(2, 1, 16, 16) > 0.9).float()
    z = vae1.encode(x)[0]
    assert mapping(z, mask).shape == z.shape and mapping(z).shape == z.shape
    restorer = TripletRestorer(vae1, mapping, vae2)
    out = restorer(x, mask)
    assert out.shape == x.shape
    assert torch.allclose(restorer(torch.cat([x, mask], 1)), out), "RGB + mask as 4 channels (tiling)"
    net = RepairNet(width=8)
    assert net(x).shape == x.shape and net(torch.cat([x, mask], 1)).shape == x.shape
    with pytest.raises(ValueError, match="divisible by 8"):
        net(torch.rand(1, 3, 12, 12))
    masked = RepairNet(width=8, mask_input=True).eval()
    assert masked.net[0].in_channels == 4 and masked(x, mask).shape == x.shape
    assert torch.allclose(masked(torch.cat([x, mask], 1)), masked(x, mask)), "RGB + mask as 4 channels"
    unmasked = masked(x, torch.zeros_like(mask))
    assert not torch.allclose(masked(x, mask), unmasked), "the mask reaches the output"
    with pytest.raises(ValueError, match="mask_input=True"):
        masked(x)
    with pytest.raises(ValueError, match=r"mask: expected shape \(2, 1, 16, 16\)"):
        masked(x, mask[:, :, :8])
    d = LatentDiscriminator(4, 8)
    assert d(z).shape == (2, 1, 4, 4)


def test_classical_restore_fills_scratches():
    y = torch.linspace(0, 1, 16).view(1, 1, 1, 16).expand(1, 3, 16, 16).contiguous()
    x, mask = degrade.scratches(y, n=2, seed=0, width=2.0)
    out = classical_restore(x, mask)
    assert out.shape == y.shape
    assert float((out - y).abs()[mask.expand_as(y) > 0].mean()) < 0.7 * float(
        (x - y).abs()[mask.expand_as(y) > 0].mean()
    )
    with pytest.raises(ValueError, match="masks"):
        classical_restore(x, mask[:, :, :8])


def test_before_after():
    a, b = torch.zeros(3, 4, 10), torch.ones(3, 4, 10) * 0.5
    out = before_after(a, b, 0.5)
    assert torch.equal(out[..., :4], b[..., :4]) and torch.equal(out[..., 6:], a[..., 6:])
    assert float(out[..., 4:6].min()) == 1.0
    with pytest.raises(ValueError, match="shape"):
        before_after(a, torch.zeros(3, 4, 8))


# ------------------------------------------------------------------------------------------------ losses
def test_latent_gan_losses_reference_values():
    r, x = torch.tensor([1.0, 0.5]), torch.tensor([0.0, 0.5])
    assert float(L.latent_discriminator_loss(r, x)) == pytest.approx(0.125 + 0.125)
    assert float(L.latent_alignment_loss(r, x)) == pytest.approx(0.625 + 0.625)
    # a perfect discriminator has loss 0 and leaves the encoder the maximal alignment loss
    assert float(L.latent_discriminator_loss(torch.ones(3), torch.zeros(3))) == 0
    assert float(L.latent_alignment_loss(torch.ones(3), torch.zeros(3))) == 2


def test_latent_alignment_makes_domains_indistinguishable():
    """A tiny encoder shifts one domain; the adversarial game pulls the two latent clouds together."""
    torch.manual_seed(0)
    enc = torch.nn.Linear(2, 2)
    disc = torch.nn.Sequential(torch.nn.Linear(2, 16), torch.nn.LeakyReLU(0.2), torch.nn.Linear(16, 1))
    oe, od = (
        torch.optim.Adam(enc.parameters(), 1e-2, betas=(0.5, 0.999)),
        torch.optim.Adam(disc.parameters(), 1e-2, betas=(0.5, 0.999)),
    )
    gen = torch.Generator().manual_seed(0)
    xs = torch.randn(256, 2, generator=gen)
    rs = torch.randn(256, 2, generator=gen) + torch.tensor([3.0, 0.0])  # the "domain shift"

    def gap():
        """Distance between the domains' latent means over the spread of all latents (scale-free)."""
        with torch.no_grad():
            zr, zx = enc(rs), enc(xs)
            return float((zr.mean(0) - zx.mean(0)).norm() / torch.cat([zr, zx]).std(0).norm())

    before = gap()
    for _ in range(300):
        zr, zx = enc(rs), enc(xs)
        ld = L.latent_discriminator_loss(disc(zr.detach()), disc(zx.detach()))
        od.zero_grad()
        ld.backward()
        od.step()  # noqa: E702
        la = L.latent_alignment_loss(disc(enc(rs)), disc(enc(xs)))
        oe.zero_grad()
        la.backward()
        oe.step()  # noqa: E702
    assert gap() < 0.2 * before


def test_vae_terms_and_mapping_loss():
    x = torch.rand(2, 3, 8, 8)
    mu, logvar = torch.zeros(2, 4, 2, 2), torch.zeros(2, 4, 2, 2)
    terms = L.spatial_vae_terms(x, x, mu, logvar)
    assert float(terms["loss"]) == 0 and float(terms["kl"]) == 0
    terms = L.spatial_vae_terms(x * 0, x, mu + 1, logvar, kl_weight=0.5)
    assert float(terms["kl"]) == pytest.approx(0.5)
    assert float(terms["loss"]) == pytest.approx(float(x.mean()) + 0.25)
    z = torch.randn(2, 4, 2, 2)
    assert float(L.mapping_loss(z + 1, z)) == pytest.approx(1.0)
    assert float(L.mapping_loss(z, z, x, x * 0, image_weight=2.0)) == pytest.approx(2 * float(x.mean()))
    with pytest.raises(ValueError, match="shape"):
        L.mapping_loss(z, z[:, :2])


def test_padded_and_tiled_restoration_of_a_large_photo():
    from coursekit.nn.old_photos import padded
    from coursekit.tiling import tiled_apply

    torch.manual_seed(0)
    vae1, vae2 = (
        SpatialVAE(width=4, z_dim=4, n_blocks=1, norm="none"),
        SpatialVAE(width=4, z_dim=4, n_blocks=1, norm="none"),
    )
    restorer = TripletRestorer(vae1, Mapping(4, 8, 1, 1, norm="none"), vae2).eval()
    net = RepairNet(width=4).eval()
    assert padded(net, 8)(torch.rand(1, 3, 13, 21)).shape == (1, 3, 13, 21)
    packed = torch.cat([torch.rand(3, 40, 56), (torch.rand(1, 40, 56) > 0.9).float()])
    with torch.no_grad():
        out = tiled_apply(padded(restorer, 8), packed, tile=24, overlap=4)
    assert out.shape == (3, 40, 56) and torch.isfinite(out).all()
