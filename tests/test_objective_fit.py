"""fit_objective: the studies' training loops run through Lightning and equal a plain Adam loop
step for step (losses and final parameters), call back after each optimiser step, and leave the
global RNG alone."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from dyngraphvae.training import fit_objective

torch.set_num_threads(1)


def _problem():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 8), nn.Tanh(), nn.Linear(8, 1))
    x, y = torch.randn(32, 3), torch.randn(32, 1)
    return model, (lambda m: 50 * (m(x) - y).pow(2).mean())


def test_fit_objective_equals_a_plain_adam_loop():
    m1, loss = _problem()
    m2 = copy.deepcopy(m1)
    lam = lambda i: 0.8 ** i  # noqa: E731
    got = fit_objective(m1, lambda step: loss(m1), 12, lr=0.05, grad_clip=0.5, lr_lambda=lam)
    opt = torch.optim.Adam(m2.parameters(), lr=0.05)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lam)
    want = []
    for _ in range(12):
        v = loss(m2)
        want.append(float(v))
        opt.zero_grad()
        v.backward()
        nn.utils.clip_grad_norm_(m2.parameters(), 0.5)  # active: the gradients are large
        opt.step()
        sched.step()
    assert got == want
    for a, b in zip(m1.parameters(), m2.parameters(), strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    assert not m1.training


def test_on_step_sees_the_updated_parameters_and_the_global_rng_is_untouched():
    m, loss = _problem()
    seen = []
    state = torch.get_rng_state()
    fit_objective(m, lambda step: loss(m), 3, lr=0.1,
                  on_step=lambda step, v: seen.append((step, float(loss(m)), float(v))))
    assert torch.equal(state, torch.get_rng_state())
    assert [s for s, _, _ in seen] == [0, 1, 2]
    # after the step, the loss has moved from the one the step was taken on
    assert all(after < before for _, after, before in seen)


def test_fit_objective_rejects_bad_steps():
    m, loss = _problem()
    with pytest.raises(ValueError, match="steps must be a positive integer"):
        fit_objective(m, lambda step: loss(m), 0)
