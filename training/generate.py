"""Greedy generation and continuation scoring in the shared prompt format (evaluation and answering)."""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from typing import Any

import torch


def _prompt_ids(tokenizer: Any, messages: list[dict[str, str]], prefix: str = "") -> list[int]:
    ids = list(tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=True, return_dict=False))
    return ids + (tokenizer.encode(prefix, add_special_tokens=False) if prefix else [])


def generate(
    model: Any, tokenizer: Any, messages: list[dict[str, str]], max_new_tokens: int, prefix: str = ""
) -> tuple[str, int]:
    """(text, new token count) for a chat without the assistant turn, or continuing an assistant turn that
    starts with ``prefix`` (the text returned excludes it); greedy, stops at EOS."""
    device = next(model.parameters()).device
    input_ids = torch.tensor([_prompt_ids(tokenizer, messages, prefix)], device=device)
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


def score(model: Any, tokenizer: Any, messages: list[dict[str, str]], continuations: Sequence[str]) -> list[float]:
    """Mean log-probability per token of each continuation as the start of the assistant turn.

    The prompt runs once; each continuation reuses its key/value cache (cropped back after each), so
    scoring a dozen candidate sentences costs about one extra pass over their own tokens.
    """
    device = next(model.parameters()).device
    prompt = torch.tensor([_prompt_ids(tokenizer, messages)], device=device)
    scores = []
    with torch.inference_mode():
        out = model(input_ids=prompt, use_cache=True)
        cache, first = _cache_of(out), torch.log_softmax(out.logits[0, -1].float(), -1)
        keyword = _cache_keyword(model)
        for text in continuations:
            ids = tokenizer.encode(text, add_special_tokens=False)
            if not ids:
                scores.append(float("-inf"))
                continue
            total = float(first[ids[0]])
            if len(ids) > 1:
                step = model(input_ids=torch.tensor([ids[:-1]], device=device), use_cache=True, **{keyword: cache})
                logp = torch.log_softmax(step.logits[0].float(), -1)
                total += float(logp.gather(1, torch.tensor(ids[1:], device=device)[:, None]).sum())
                cache.crop(-(len(ids) - 1))  # back to the prompt alone (a negative crop removes tokens)
            scores.append(total / len(ids))
    return scores


def _cache_keyword(model: Any) -> str:
    """transformers 5.x takes the key/value cache as `cache` (`past_key_values` is deprecated); 4.x only
    knows `past_key_values`."""
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    return "cache" if "cache" in inspect.signature(base.forward).parameters else "past_key_values"


def _cache_of(output: Any) -> Any:
    cache = getattr(output, "cache", None)
    return cache if cache is not None else output.past_key_values
