"""Tiny models of each supported family (2 layers, hidden 64, MLP 128, byte vocabulary).

``tiny_model("llama")`` returns a seeded LoadedModel wrapping a random model and a byte-level
tokenizer with a ChatML template, so every code path runs offline in milliseconds.
"""

from __future__ import annotations

from typing import Any

import torch

CHATML = (
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)
SPECIAL = ["<|im_start|>", "<|im_end|>", "<pad>"]


def tiny_tokenizer() -> Any:
    """A byte-level BPE tokenizer without merges: 256 byte tokens + 3 specials (vocab 259)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    alphabet = pre_tokenizers.ByteLevel.alphabet()
    vocab = {ch: i for i, ch in enumerate(sorted(alphabet))}
    tk = Tokenizer(models.BPE(vocab=vocab, merges=[]))
    tk.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tk.decoder = decoders.ByteLevel()
    tok = PreTrainedTokenizerFast(tokenizer_object=tk, eos_token="<|im_end|>", pad_token="<pad>", bos_token="<|im_start|>")
    tok.add_special_tokens({"additional_special_tokens": ["<|im_start|>"]})
    tok.chat_template = CHATML
    return tok


def _config(family: str, vocab: int, ids: dict[str, int]) -> Any:
    import transformers as tf

    common = dict(vocab_size=vocab, hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4, max_position_embeddings=512, **ids)
    kv = dict(num_key_value_heads=2)
    if family == "llama":
        return tf.LlamaConfig(**common, **kv, tie_word_embeddings=False)
    if family == "mistral":
        return tf.MistralConfig(**common, **kv)
    if family == "qwen2":
        return tf.Qwen2Config(**common, **kv)
    if family == "qwen3":
        return tf.Qwen3Config(**common, **kv, head_dim=16)
    if family == "olmo2":
        return tf.Olmo2Config(**common, **kv)
    if family == "gemma2":
        return tf.Gemma2Config(**common, **kv, head_dim=16)
    if family == "gpt2":
        return tf.GPT2Config(vocab_size=vocab, n_embd=64, n_inner=128, n_layer=2, n_head=4, n_positions=512, **ids)
    if family == "gptj":
        return tf.GPTJConfig(vocab_size=vocab, n_embd=64, n_inner=128, n_layer=2, n_head=4, n_positions=512, rotary_dim=8, **ids)
    raise ValueError(f"no tiny config for {family!r}; valid: {TINY_FAMILIES}")


TINY_FAMILIES = ("llama", "mistral", "qwen2", "qwen3", "olmo2", "gemma2", "gpt2", "gptj")


def tiny_model(family: str = "llama", *, seed: int = 0) -> Any:
    """A seeded tiny LoadedModel of ``family`` (float32, CPU, eval mode)."""
    from transformers import AutoModelForCausalLM

    from prefedit.models.load import wrap_model

    tok = tiny_tokenizer()
    torch.manual_seed(seed)
    ids = dict(bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id)
    cfg = _config(family, len(tok), ids)
    model = AutoModelForCausalLM.from_config(cfg, dtype=torch.float32)
    return wrap_model(model, tok, name=f"tiny-{family}")
