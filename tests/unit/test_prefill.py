"""Prefill: rows sharing a token prefix run it once, and every activation a caller reads (last
hidden state, hook captures, cache) equals the plain batched forward's at the rows' tokens."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from prefedit.editing.hooks import capture
from prefedit.editing.prefill import Prefill
from prefedit.editing.tokens import encode_rows


def _rows(lm) -> list[str]:
    head = "<s>system: be brief.\nuser: "
    return [head + q for q in ("Where do I live?", "What do I eat?", "Which sport do I play?")] + ["plain text", "other words here"]


def _plain(lm, batch, module):
    with torch.no_grad(), capture(module, inputs=False) as seen:
        out = lm.model.base_model(input_ids=batch.input_ids, attention_mask=batch.attention_mask, use_cache=True)
    return out.last_hidden_state, seen[0], [(layer.keys, layer.values) for layer in out.past_key_values.layers]


@pytest.mark.parametrize("family", ["llama", "qwen2", "olmo2", "gpt2"])
def test_prefill_equals_the_plain_forward(tiny, family) -> None:
    # also when every forward stops at a module (``inputs_of``, what ``keys_at`` runs)
    lm = tiny(family)
    texts = _rows(lm)
    batch = encode_rows(lm.tokenizer, texts, ["ok"] * len(texts), [0] * len(texts))
    module = lm.arch.module("mlp_out", lm.arch.relative_layer(0.5))
    hidden, seen, kv = _plain(lm, batch, module)
    pre = Prefill(batch.input_ids, batch.attention_mask)
    assert pre.forwards == 3  # the three questions' shared head once, their rest, the other two rows
    with torch.no_grad(), capture(module, inputs=False) as parts:
        got_hidden, caches = pre.run(lm.model.base_model)
    real = batch.attention_mask.bool()
    torch.testing.assert_close(pre.stitch(got_hidden)[real], hidden[real], rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(pre.stitch(parts)[real], seen[real], rtol=1e-4, atol=1e-5)
    with torch.no_grad(), capture(module) as inputs:  # the module's inputs; inputs_of stops every forward there
        lm.model.base_model(input_ids=batch.input_ids, attention_mask=batch.attention_mask, use_cache=False)
    torch.testing.assert_close(pre.stitch(pre.inputs_of(lm.model.base_model, module))[real], inputs[0][real], rtol=1e-4, atol=1e-5)
    for i, (k, v) in enumerate(kv):
        got_k = pre.stitch([c[i][0] for c in caches], dim=2)
        got_v = pre.stitch([c[i][1] for c in caches], dim=2)
        torch.testing.assert_close(got_k.transpose(1, 2)[real], k.transpose(1, 2)[real], rtol=1e-4, atol=1e-5)
        torch.testing.assert_close(got_v.transpose(1, 2)[real], v.transpose(1, 2)[real], rtol=1e-4, atol=1e-5)



@settings(max_examples=40, deadline=None)
@given(st.lists(st.lists(st.integers(1, 4), min_size=1, max_size=12), min_size=1, max_size=8), st.integers(1, 4))
def test_prefill_plan_covers_every_token_once(seqs, min_shared) -> None:
    width = max(len(s) for s in seqs)
    ids = torch.zeros(len(seqs), width, dtype=torch.long)
    mask = torch.zeros_like(ids)
    for i, s in enumerate(seqs):
        ids[i, : len(s)] = torch.tensor(s)
        mask[i, : len(s)] = 1
    pre = Prefill(ids, mask, min_shared)
    covered = torch.zeros_like(ids)
    for group in pre.pieces:
        if len(group) == 2:  # a shared prefix: the same tokens in every row of the group
            prefix, rest = group
            assert prefix.shared and prefix.stop >= min_shared and prefix.stop == rest.start
            assert (ids[prefix.rows, : prefix.stop] == ids[prefix.rows[:1], : prefix.stop]).all()
            assert (mask[rest.rows, rest.start] == 1).all()  # every row keeps a token for the second forward
        for piece in group:
            covered[piece.rows, piece.start : piece.stop] += 1
    assert ((covered >= 1) == mask.bool()).logical_or(~mask.bool()).all()
    assert (covered[mask.bool()] == 1).all()
