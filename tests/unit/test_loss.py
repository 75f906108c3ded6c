"""token_nll: the float32 cross-entropy of low-precision logits, without a float32 copy of them."""

from __future__ import annotations

import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from prefedit.editing.loss import ROWS, token_nll


def _reference(logits: torch.Tensor, labels: torch.Tensor, weights: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    x = logits.detach().clone().requires_grad_()
    nll = torch.nn.functional.cross_entropy(x.float(), labels, reduction="none")
    (nll * weights).sum().backward()
    return nll.detach(), x.grad


@settings(max_examples=25, deadline=None)
@given(rows=st.integers(1, 3 * ROWS + 1), vocab=st.integers(2, 300), sharp=st.floats(0.0, 30.0), seed=st.integers(0, 2**16))
def test_value_and_gradient_match_float32_cross_entropy(rows: int, vocab: int, sharp: float, seed: int) -> None:
    # row counts across several blocks, near-certain targets (the search stops at an NLL of 0.05)
    g = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, vocab, (rows,), generator=g)
    logits = 3 * torch.randn(rows, vocab, generator=g)
    logits[torch.arange(rows), labels] += sharp
    logits = logits.bfloat16()
    weights = torch.rand(rows, generator=g)  # a per-row upstream gradient
    want, want_grad = _reference(logits, labels, weights)
    x = logits.clone().requires_grad_()
    got = token_nll(x, labels)
    (got * weights).sum().backward()
    assert got.dtype == torch.float32
    torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-5)
    # the reference's gradient is rounded to bfloat16 as well: within one bfloat16 step
    torch.testing.assert_close(x.grad.float(), want_grad.float(), rtol=1e-2, atol=4e-3)


def test_a_small_nll_keeps_float32_precision() -> None:
    # a target NLL near the search's stopping point (0.05) at logits of the size SmolLM2 gives
    logits = torch.zeros(1, 49152)
    logits[0, :] = -20.0
    logits[0, 7] = 14.0
    logits[0, 8] = 14.0 - 3.0
    logits = logits.bfloat16()
    labels = torch.tensor([7])
    want = torch.nn.functional.cross_entropy(logits.float(), labels, reduction="none")
    assert 0.04 < float(want) < 0.06
    torch.testing.assert_close(token_nll(logits, labels), want, rtol=1e-4, atol=1e-6)


def test_float32_logits_are_plain_cross_entropy() -> None:
    logits = torch.randn(5, 11)
    labels = torch.tensor([0, 3, 10, 2, 2])
    assert torch.equal(token_nll(logits, labels), torch.nn.functional.cross_entropy(logits, labels, reduction="none"))
