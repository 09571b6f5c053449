"""Continuation scoring: the cached-prompt shortcut gives exactly the log-probabilities of a full pass."""

from __future__ import annotations

import torch
from peft import get_peft_model

from tests.test_loop import tiny_model
from training.generate import score
from training.models import LoraSettings


class CharTokenizer:
    """One token per character (ids 3..96): enough to drive a 97-token model through the real code."""

    def encode(self, text: str, add_special_tokens: bool = False) -> list[int]:
        return [3 + ord(c) % 94 for c in text]

    def apply_chat_template(self, messages, add_generation_prompt, tokenize, return_dict):  # type: ignore[no-untyped-def]
        return self.encode("".join(f"<{m['role']}>{m['content']}" for m in messages) + "<assistant>")


def _full_pass(model, tokenizer, messages, text: str) -> float:  # type: ignore[no-untyped-def]
    prompt = tokenizer.apply_chat_template(messages, True, True, False)
    ids = tokenizer.encode(text)
    with torch.inference_mode():
        logp = torch.log_softmax(model(input_ids=torch.tensor([prompt + ids])).logits[0].float(), -1)
    return sum(float(logp[len(prompt) - 1 + i, t]) for i, t in enumerate(ids)) / len(ids)


def test_scores_equal_a_full_forward_pass_for_every_continuation() -> None:
    model = get_peft_model(tiny_model(), LoraSettings().peft_config())
    model.eval()
    tokenizer = CharTokenizer()
    messages = [{"role": "user", "content": "How many vacation days?"}]
    options = [
        "Quote: 27 days.\nAnswer:",
        "Quote: it runs from January.\nAnswer:",
        "x",
        "The documents don't cover this.",
    ]
    got = score(model, tokenizer, messages, options)
    want = [_full_pass(model, tokenizer, messages, text) for text in options]
    assert all(abs(g - w) < 1e-4 for g, w in zip(got, want, strict=True)), (got, want)
    again = score(model, tokenizer, messages, options[::-1])[::-1]  # the cache is back to the prompt each time
    assert all(abs(g - a) < 1e-5 for g, a in zip(got, again, strict=True))
