"""Greedy generation in the shared prompt format (used by evaluation and answering)."""

from __future__ import annotations

from typing import Any

import torch


def generate(model: Any, tokenizer: Any, messages: list[dict[str, str]], max_new_tokens: int) -> tuple[str, int]:
    """(text, new token count) for a chat without the assistant turn; greedy, stops at EOS."""
    ids = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=True, return_dict=False)
    device = next(model.parameters()).device
    input_ids = torch.tensor([list(ids)], device=device)
    with torch.inference_mode():
        out = model.generate(
            input_ids=input_ids,
            attention_mask=torch.ones_like(input_ids),
            max_new_tokens=max_new_tokens,
            do_sample=False,
            eos_token_id=tokenizer.eos_token_id,
            pad_token_id=tokenizer.pad_token_id or tokenizer.eos_token_id,
        )
    new = out[0][input_ids.shape[1] :]
    return tokenizer.decode(new, skip_special_tokens=True).strip(), int(new.shape[0])
