"""Feature and edge decoders: shapes, densities against scipy, symmetry, peers."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import multivariate_normal, norm
from torch.distributions import (
    Independent,
    LowRankMultivariateNormal,
    MultivariateNormal,
)
from torch_geometric.nn.models import InnerProductDecoder

from dyngraphvae.nn import EdgeDecoder, GaussianFeatureDecoder, deterministic_score, valid_pairs

# ---------------------------------------------------------------- feature decoder


@pytest.mark.parametrize(
    "cov, cls",
    [("diag", Independent), ("lowrank", LowRankMultivariateNormal), ("full", MultivariateNormal)],
)
@pytest.mark.parametrize("lead", [(), (3,), (2, 3)])
def test_feature_decoder_shapes(cov, cls, lead):
    torch.manual_seed(0)
    n, d, f = 5, 4, 3
    dec = GaussianFeatureDecoder(d, f, 16, covariance=cov, rank=2)
    z = torch.randn(*lead, n, d)
    dist = dec(z)
    assert isinstance(dist, cls)
    assert dist.batch_shape == (*lead, n) and dist.event_shape == (f,)
    x = torch.randn(n, f)  # broadcasts over the sample dims
    lp = dist.log_prob(x)
    assert lp.shape == (*lead, n) and torch.isfinite(lp).all()
    assert dec.score(z, x).shape == (*lead, n)
    assert dist.rsample().shape == (*lead, n, f)
    assert dist.mean.shape == dist.variance.shape == (*lead, n, f)


def test_full_covariance_log_prob_matches_scipy():
    torch.manual_seed(1)
    n, d, f = 6, 3, 4
    dec = GaussianFeatureDecoder(d, f, 16, covariance="full").double()
    z = torch.randn(n, d, dtype=torch.float64)
    x = torch.randn(n, f, dtype=torch.float64)
    dist = dec(z)
    lt = dist.scale_tril
    assert (torch.diagonal(lt, dim1=-2, dim2=-1) > 0).all()
    assert torch.equal(lt, torch.tril(lt))
    cov = (lt @ lt.transpose(-1, -2)).detach().numpy()
    mean = dist.mean.detach().numpy()
    want = [multivariate_normal(mean[v], cov[v]).logpdf(x[v].numpy()) for v in range(n)]
    np.testing.assert_allclose(dist.log_prob(x).detach().numpy(), want, rtol=1e-10)
    # The covariance is genuinely full (off-diagonal entries are modelled).
    assert np.abs(cov[:, 0, 1:]).max() > 1e-3


def test_lowrank_log_prob_matches_scipy():
    torch.manual_seed(2)
    n, d, f, r = 4, 3, 5, 2
    dec = GaussianFeatureDecoder(d, f, 16, covariance="lowrank", rank=r).double()
    z = torch.randn(n, d, dtype=torch.float64)
    x = torch.randn(n, f, dtype=torch.float64)
    dist = dec(z)
    w, diag = dist.cov_factor.detach(), dist.cov_diag.detach()
    assert w.shape == (n, f, r)
    cov = (w @ w.transpose(-1, -2) + torch.diag_embed(diag)).numpy()
    mean = dist.mean.detach().numpy()
    want = [multivariate_normal(mean[v], cov[v]).logpdf(x[v].numpy()) for v in range(n)]
    np.testing.assert_allclose(dist.log_prob(x).detach().numpy(), want, rtol=1e-10)


def test_diag_log_prob_matches_scipy():
    torch.manual_seed(3)
    dec = GaussianFeatureDecoder(2, 3, 8).double()
    z = torch.randn(4, 2, dtype=torch.float64)
    x = torch.randn(4, 3, dtype=torch.float64)
    dist = dec(z)
    loc, scale = dist.base_dist.loc.detach().numpy(), dist.base_dist.scale.detach().numpy()
    want = norm(loc, scale).logpdf(x.numpy()).sum(-1)
    np.testing.assert_allclose(dist.log_prob(x).detach().numpy(), want, rtol=1e-10)


@pytest.mark.parametrize("cov", ["diag", "lowrank", "full"])
def test_min_scale_floor_keeps_numerics_finite(cov):
    dec = GaussianFeatureDecoder(2, 3, 8, covariance=cov, min_scale=1e-2)
    with torch.no_grad():
        dec.scale.weight.zero_()
        dec.scale.bias.fill_(-1e4)  # softplus(-1e4) underflows to 0: only the floor remains
    dist = dec(torch.randn(4, 2))
    assert (dist.variance >= 1e-4 * (1 - 1e-5)).all()
    lp = dist.log_prob(torch.randn(4, 3))
    assert torch.isfinite(lp).all()


def test_deterministic_decoder_is_squared_error():
    torch.manual_seed(4)
    dec = GaussianFeatureDecoder(3, 4, 8, deterministic=True)
    z = torch.randn(2, 5, 3)
    x = torch.randn(5, 4)
    mean = dec(z)
    assert isinstance(mean, torch.Tensor) and mean.shape == (2, 5, 4)
    score = dec.score(z, x)
    torch.testing.assert_close(score, -0.5 * ((x - mean) ** 2).sum(-1))
    # = log N(x; mu, I) + F/2 log(2 pi): a Gaussian log-density without its normaliser.
    unit = Independent(torch.distributions.Normal(mean, torch.ones_like(mean)), 1).log_prob(x)
    torch.testing.assert_close(score, unit + 2 * math.log(2 * math.pi))
    torch.testing.assert_close(deterministic_score(mean, x), score)
    score.sum().backward()
    assert dec.mean.weight.grad is not None and dec.scale is None


def test_feature_decoder_gradients_flow():
    dec = GaussianFeatureDecoder(3, 4, 8, covariance="full")
    z = torch.randn(5, 3, requires_grad=True)
    dec(z).log_prob(torch.randn(5, 4)).sum().backward()
    assert z.grad is not None and z.grad.abs().sum() > 0
    assert all(p.grad is not None for p in dec.parameters())


def test_feature_decoder_bad_arguments():
    with pytest.raises(ValueError, match="covariance"):
        GaussianFeatureDecoder(2, 3, 8, covariance="banded")
    with pytest.raises(ValueError, match="rank"):
        GaussianFeatureDecoder(2, 3, 8, covariance="lowrank", rank=0)
    with pytest.raises(ValueError, match=r"z: expected shape \(\.\.\., N, 2\)"):
        GaussianFeatureDecoder(2, 3, 8)(torch.randn(4, 3))


# ---------------------------------------------------------------- edge decoder

KINDS = ["inner", "bilinear", "mlp"]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("directed", [False, True])
def test_edge_logits_shapes_and_dense_agree(kind, directed):
    torch.manual_seed(5)
    n, d = 9, 4
    dec = EdgeDecoder(d, kind=kind, directed=directed, hidden_dim=8)
    z = torch.randn(2, 3, n, d)
    pairs = valid_pairs(n, directed)
    s = dec.logits(z, pairs)
    assert s.shape == (2, 3, pairs.size(1))
    dense = dec.dense_logits(z)
    assert dense.shape == (2, 3, n, n)
    torch.testing.assert_close(dense[..., pairs[0], pairs[1]], s, rtol=1e-5, atol=1e-5)
    # Broadcasting over leading dims equals a loop.
    loop = torch.stack(
        [torch.stack([dec.logits(z[i, j], pairs) for j in range(3)]) for i in range(2)]
    )
    torch.testing.assert_close(s, loop)


@settings(max_examples=25, deadline=None)
@given(
    kind=st.sampled_from(KINDS),
    seed=st.integers(0, 10_000),
    scale=st.floats(0.01, 10.0),
)
def test_undirected_scores_are_symmetric(kind, seed, scale):
    torch.manual_seed(seed)
    dec = EdgeDecoder(3, kind=kind, directed=False, hidden_dim=8)
    z = scale * torch.randn(6, 3)
    pairs = valid_pairs(6, False)
    s_uv, s_vu = dec.logits(z, pairs), dec.logits(z, pairs.flip(0))
    torch.testing.assert_close(s_uv, s_vu, rtol=1e-5, atol=1e-5 * scale**2)
    dense = dec.dense_logits(z)
    torch.testing.assert_close(dense, dense.T, rtol=1e-5, atol=1e-5 * scale**2)


@pytest.mark.parametrize("kind", KINDS)
def test_directed_scores_are_not_symmetric(kind):
    torch.manual_seed(6)
    dec = EdgeDecoder(3, kind=kind, directed=True, hidden_dim=8)
    z = torch.randn(6, 3)
    dense = dec.dense_logits(z)
    assert (dense - dense.T).abs().max() > 1e-2


def test_inner_product_matches_pyg():
    torch.manual_seed(7)
    z = torch.randn(8, 4)
    pairs = valid_pairs(8, False)
    ours = EdgeDecoder(4, kind="inner", bias=False)
    peer = InnerProductDecoder()
    torch.testing.assert_close(torch.sigmoid(ours.logits(z, pairs)), peer(z, pairs))
    torch.testing.assert_close(torch.sigmoid(ours.dense_logits(z)), peer.forward_all(z))
    assert len(list(ours.parameters())) == 0


def test_bilinear_matches_formula():
    torch.manual_seed(8)
    dec = EdgeDecoder(3, kind="bilinear", directed=True)
    with torch.no_grad():
        dec.bias.fill_(0.3)
    z = torch.randn(5, 3)
    w = dec.weight.detach()
    torch.testing.assert_close(dec.dense_logits(z), z @ w @ z.T + 0.3)
    und = EdgeDecoder(3, kind="bilinear", directed=False)
    w = und.weight.detach()
    torch.testing.assert_close(und.dense_logits(z), z @ (0.5 * (w + w.T)) @ z.T)


@pytest.mark.parametrize("directed", [False, True])
def test_mlp_dense_chunking_is_exact(directed):
    torch.manual_seed(9)
    dec = EdgeDecoder(3, kind="mlp", directed=directed, hidden_dim=8)
    z = torch.randn(2, 11, 3)
    torch.testing.assert_close(dec.dense_logits(z, chunk_size=3), dec.dense_logits(z, 1000))


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("directed", [False, True])
def test_edge_decoder_gradients_flow(kind, directed):
    dec = EdgeDecoder(3, kind=kind, directed=directed, hidden_dim=8)
    z = torch.randn(6, 3, requires_grad=True)
    dec.logits(z, valid_pairs(6, directed)).sum().backward()
    assert z.grad.abs().sum() > 0
    assert all(p.grad is not None for p in dec.parameters())


def test_edge_decoder_bad_arguments():
    with pytest.raises(ValueError, match="kind"):
        EdgeDecoder(3, kind="distmult")
    with pytest.raises(ValueError, match="pairs"):
        EdgeDecoder(3).logits(torch.randn(4, 3), torch.tensor([0, 1]))
