"""Per-token NLL of low-precision logits, computed in float32 a few rows at a time.

``cross_entropy(logits.float(), labels)`` on bfloat16 logits first writes a float32 copy of
the whole ``[positions, vocab]`` block, then its log-softmax, then in the backward pass two
more blocks of the same size: on SmolLM2 (49,152 tokens) 300 target positions make 59 MB per
block, and at one CPU thread those passes through memory took about 110 ms per step of the
value search (32 ms in blocks), longer than the vocabulary projection itself. Plain ``cross_entropy`` on the
bfloat16 logits is fast but rounds ``logit - logsumexp`` to bfloat16, whose spacing near a
logit of 14 is 0.06: a target NLL of 0.05 (the search's stopping point) would come out
anywhere from 0 to 0.1.

``token_nll`` keeps float32 precision and never holds more than a few rows in float32: the
forward pass keeps only each row's log-sum-exp, and the backward pass recomputes the softmax
row block by row block (``benchmarks/token_nll_speed.py`` times both ways).
"""

from __future__ import annotations

from typing import Any

import torch

ROWS = 16  # rows converted to float32 at a time (16 x 49,152 x 4 bytes: 3 MB, cache-sized)


class _ChunkedNLL(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        lse = torch.empty(logits.shape[0], dtype=torch.float32, device=logits.device)
        for s in range(0, logits.shape[0], ROWS):
            lse[s : s + ROWS] = torch.logsumexp(logits[s : s + ROWS].float(), -1)
        ctx.save_for_backward(logits, labels, lse)
        return lse - logits.gather(1, labels.unsqueeze(1)).squeeze(1).float()

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor, None]:
        logits, labels, lse = ctx.saved_tensors
        out = torch.empty_like(logits)
        for s in range(0, logits.shape[0], ROWS):
            # d(lse - logit[label]) / d logits = softmax - one_hot(label)
            out[s : s + ROWS] = torch.exp(logits[s : s + ROWS].float() - lse[s : s + ROWS, None]).mul_(grad[s : s + ROWS, None])
        rows = torch.arange(labels.shape[0], device=labels.device)
        out[rows, labels] -= grad.to(out.dtype)
        return out, None


def token_nll(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """``-log softmax(logits)[i, labels[i]]`` per row (``[N, vocab]``, ``[N]`` -> float32 ``[N]``),
    differentiable. Float32 logits, and up to ``ROWS`` rows (one block), go to ``cross_entropy``."""
    if logits.dtype == torch.float32 or logits.shape[0] <= ROWS:
        return torch.nn.functional.cross_entropy(logits.float(), labels, reduction="none")
    return _ChunkedNLL.apply(logits, labels)
