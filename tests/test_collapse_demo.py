"""Collapse demonstration on a sequence VAE with a strong autoregressive decoder.

Measured facts (docs/collapse.md): the plain ELBO leaves most latent dimensions collapsed and its KL
decays during training; free bits keep every dimension at >= lambda nats; cyclical annealing ends
with
clearly more information in z than the plain ELBO. The fast test fails if free bits or the cyclical
schedule stop working (a broken free-bits floor lets the unused dimensions collapse to ~0.01 nats; a
constant beta = 1 schedule gives the plain-ELBO MI).
"""

import pytest
import torch

from dyngraphvae.collapse.demo import make_sequences, run_demo

FAST = dict(steps=300, hidden=32, num_train=1024, num_test=512, batch_size=64)


def test_data_has_known_informative_dims():
    data = make_sequences(2000, seed=0)
    # x_1's first two coordinates are 2 c + noise, the others pure noise
    corr = torch.corrcoef(torch.cat([data.x[:, 0, :], data.c], 1).T)[:4, 4:]
    assert corr[0, 0] > 0.95 and corr[1, 1] > 0.95
    assert corr[2:].abs().max() < 0.1


def test_cures_fast():
    torch.set_num_threads(1)
    none, fb, cyc = run_demo(cures=("none", "free_bits", "cyclical"), **FAST)
    lam = FAST.get("free_bits", 0.25)
    assert min(fb.kl_per_dim) > 0.8 * lam  # floor holds on every one of the 8 dims
    assert sum(k < 0.1 for k in none.kl_per_dim) >= 3  # without it several dims go unused
    assert fb.active_units >= 2 and cyc.active_units >= 2
    assert cyc.mutual_information > none.mutual_information + 0.3


@pytest.mark.slow
def test_cures_full():
    torch.set_num_threads(1)
    none, fb, cyc, drop = run_demo()
    # plain ELBO: KL decays during training (collapse setting in) and fewer units are used
    peak = max(k for _, k in none.kl_trace)
    assert none.kl_trace[-1][1] < 0.5 * peak
    for cured in (fb, cyc, drop):
        assert cured.active_units >= 2
        assert cured.mutual_information > none.mutual_information
    assert fb.active_units == 8
