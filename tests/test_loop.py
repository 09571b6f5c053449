"""The training loop on a tiny model built from a config: correct loss, little padding, learning."""

from __future__ import annotations

import random

import torch
from peft import get_peft_model
from transformers import LlamaConfig, LlamaForCausalLM

from training.loop import Encoded, TrainSettings, answer_loss, buckets, collate, evaluate_loss, train
from training.models import LoraSettings


def tiny_model() -> LlamaForCausalLM:
    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=97,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=256,
        initializer_range=0.5,  # large enough that a frozen random LM head can become confident
    )
    model = LlamaForCausalLM(config)
    for p in model.parameters():
        p.requires_grad_(False)
    return model


def items(n: int, seed: int = 0) -> list[Encoded]:
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        prompt = [rng.randrange(3, 97) for _ in range(rng.randrange(10, 40))]
        answer = [5, 6, 7, prompt[0] % 90 + 3]  # learnable: a fixed phrase, then a copy of the first token
        out.append(Encoded(prompt + answer + [2], len(prompt)))
    return out


def test_answer_loss_matches_the_standard_masked_loss() -> None:
    model = tiny_model()
    batch = items(3)
    ids, mask, labels = collate(batch, pad_id=0, device="cpu")
    ours = answer_loss(model, ids, mask, labels)
    reference = model(input_ids=ids, attention_mask=mask, labels=labels).loss  # full-vocab logits everywhere
    assert torch.allclose(ours, reference, atol=1e-5)


def test_buckets_keep_padding_small_and_cover_every_item() -> None:
    data = items(40)
    batches = buckets(data, 4, random.Random(0))
    assert sorted(id(e) for b in batches for e in b) == sorted(id(e) for e in data)
    padded = sum(max(len(e) for e in b) * len(b) for b in batches)
    assert padded / sum(len(e) for e in data) < 1.1  # < 10% padding


def test_training_lowers_the_loss_and_is_reproducible() -> None:
    losses = []
    for _ in range(2):
        model = get_peft_model(tiny_model(), LoraSettings().peft_config())
        data = items(32)
        before = evaluate_loss(model, data, pad_id=0, device="cpu")
        result = train(model, data, TrainSettings(epochs=8, batch_size=8, learning_rate=2e-2), pad_id=0, device="cpu")
        after = evaluate_loss(model, data, pad_id=0, device="cpu")
        assert after < before * 0.8
        losses.append(result.losses)
    assert losses[0] == losses[1]  # fixed seeds: same data, same adapter


def test_training_stops_within_one_step_when_asked() -> None:
    model = get_peft_model(tiny_model(), LoraSettings().peft_config())
    calls = {"n": 0}

    def stop() -> bool:
        calls["n"] += 1
        return calls["n"] > 3

    result = train(model, items(64), TrainSettings(epochs=2, batch_size=4), pad_id=0, device="cpu", should_stop=stop)
    assert result.cancelled and len(result.losses) == 3
