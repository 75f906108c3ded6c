"""grouped_attention: transformers' eager attention without per-head key/value copies."""

from __future__ import annotations

import copy

import pytest
import torch
from transformers import DynamicCache

from prefedit.models.attention import GROUPED, GROUPED_FAMILIES, register, supports_grouped
from prefedit.models.twin import compute_twin
from prefedit.testing import tiny_model


def _run(model, ids, mask, past_ids):
    """Logits of ``ids`` after a cached prefix ``past_ids`` (right-padded rows), and the gradient
    of their sum with respect to the input embeddings of ``ids``."""
    with torch.no_grad():
        cache = DynamicCache(config=model.config)
        n = past_ids.shape[1]
        model(input_ids=past_ids, attention_mask=mask[:, :n], past_key_values=cache, use_cache=True)
    emb = model.get_input_embeddings()(ids).detach().requires_grad_()
    pos = torch.arange(n, n + ids.shape[1]).unsqueeze(0).expand(ids.shape[0], -1)
    out = model(inputs_embeds=emb, attention_mask=mask, past_key_values=cache, position_ids=pos, use_cache=True).logits
    (out * mask[:, n:, None]).sum().backward()
    return out.detach(), emb.grad


@pytest.mark.parametrize("family", GROUPED_FAMILIES)
def test_grouped_equals_eager_attention_with_a_cache_and_padding(family: str) -> None:
    eager = tiny_model(family, seed=3)
    assert supports_grouped(eager.model)
    assert eager.model.config.num_key_value_heads < eager.model.config.num_attention_heads  # the tiny configs are grouped
    eager.model.set_attn_implementation("eager")
    grouped = copy.deepcopy(eager.model)
    grouped.set_attn_implementation(register())
    g = torch.Generator().manual_seed(0)
    past = torch.randint(3, 200, (3, 7), generator=g)
    ids = torch.randint(3, 200, (3, 5), generator=g)
    mask = torch.ones(3, 12, dtype=torch.long)
    mask[1, 10:] = 0  # a shorter row, right-padded
    mask[2, 0:2] = 0  # a left-padded row
    want, want_grad = _run(eager.model, ids, mask, past)
    got, got_grad = _run(grouped, ids, mask, past)
    real = mask[:, 7:].bool()
    torch.testing.assert_close(got[real], want[real], rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(got_grad, want_grad, rtol=1e-4, atol=1e-6)


def test_the_compute_twin_uses_it_where_it_applies(tiny) -> None:
    lm = tiny("llama")
    assert compute_twin(lm, torch.bfloat16).model.config._attn_implementation == GROUPED
    other = tiny("gpt2")
    assert not supports_grouped(other.model)
    assert compute_twin(other, torch.bfloat16).model.config._attn_implementation == "eager"
