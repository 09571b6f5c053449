"""Answer latency: question event -> answer posted, warm, vs a bare model.generate of the same prompt.

Runs the real stack locally (private Redis, Slack emulator, the bot over HTTP, an
ingest worker and a warm answer worker), loads the sample handbook into a
channel, asks a cold first question (reported separately), then N questions. For
each, the same prompt is generated with a bare ``model.generate`` for the same
number of new tokens in this process. Prints JSON. Goal: overhead <= 20%.

    .venv/bin/python bench/answer_latency.py [--questions 6] [--model smollm2]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

QUESTIONS = [
    "How many days of paid vacation do employees get per year?",
    "What is the dinner limit for expenses?",
    "How long must passwords be?",
    "What is the home office stipend?",
    "Which booking tool is used for travel?",
    "When do new starters arrive on their first Monday?",
    "What is the mileage rate per mile?",
    "How many weeks of parental leave does a primary caregiver get?",
]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--questions", type=int, default=6)
    parser.add_argument("--model", default="smollm2", help="answer model (no adapter: the base model answers)")
    args = parser.parse_args()

    from orgtune.config import Config
    from orgtune.demo import ALICE, CHANNEL, local_stack

    config = Config.from_env().with_(answer_model=args.model)
    with local_stack(config, queues=("ingest", "answer")) as (cfg, driver):
        ws = driver.ws
        ws.add_channel(CHANNEL, "handbook")
        handbook = sorted((ROOT / "samples" / "handbook").iterdir())
        shared = [driver.share_file(CHANNEL, ALICE, p.name, p.read_bytes()).message.ts for p in handbook]
        ws.wait_for(lambda: all(ws.replies(CHANNEL, ts) for ts in shared), timeout=300)

        def ask(question: str) -> float:
            start = time.perf_counter()
            msg, _ = driver.mention(CHANNEL, ALICE, question)
            ws.wait_for(lambda: any(m.user == ws.bot_user_id for m in ws.replies(CHANNEL, msg.ts)), timeout=600)
            return time.perf_counter() - start

        cold = ask("What is this handbook about?")
        warm = [(q, ask(q)) for q in QUESTIONS[: args.questions]]
        bare = bare_generation(cfg, [q for q, _ in warm])
    rows = []
    for (q, seconds), (bare_s, tokens) in zip(warm, bare, strict=True):
        rows.append(
            {"question": q, "orgtune_s": round(seconds, 3), "bare_generate_s": round(bare_s, 3), "new_tokens": tokens}
        )
    generated = [r for r in rows if r["new_tokens"] > 0]
    total_o = sum(r["orgtune_s"] for r in generated)
    total_b = sum(r["bare_generate_s"] for r in generated)
    overhead = total_o / total_b - 1 if total_b else None
    print(
        json.dumps(
            {
                "benchmark": "answer_latency",
                "model": args.model,
                "cold_first_answer_s": round(cold, 2),
                "warm_questions": len(rows),
                "warm_total_s": round(total_o, 2),
                "bare_generate_total_s": round(total_b, 2),
                "overhead": round(overhead, 4) if overhead is not None else None,
                "goal_overhead": 0.20,
                "meets_goal": overhead is not None and overhead <= 0.20,
                "questions": rows,
            },
            indent=2,
        )
    )
    return 0


def bare_generation(cfg, questions: list[str]) -> list[tuple[float, int]]:  # type: ignore[no-untyped-def]
    """The same prompts and token counts through a bare model.generate (after a warm-up)."""
    import torch
    from sqlalchemy import select

    from answering.pipeline import load_context
    from jobs.runtime import Runtime
    from storage.channels import ChannelKey
    from storage.models import Question
    from training import prompts
    from training.models import get_model
    from training.weights import load

    rt = Runtime.from_config(cfg)
    spec = get_model(cfg.answer_model)
    model, tokenizer = load(spec, cfg, "cpu")
    out = []
    with rt.db.session() as session:
        team = session.scalars(select(Question.team_id)).first()
        for q in questions:
            row = session.scalars(select(Question).where(Question.question == q)).first()
            context = load_context(session, ChannelKey(team or "", row.channel_id if row else ""), q, rt.artifacts.root)
            passages = [c.passage() for c, _ in context.passages]
            ids = tokenizer.apply_chat_template(
                prompts.chat(q, passages), add_generation_prompt=True, tokenize=True, return_dict=False
            )
            n = len(tokenizer.encode(row.generated or "", add_special_tokens=False)) + 1 if row else 0
            if n <= 1 or not passages:
                out.append((0.0, 0))
                continue
            x = torch.tensor([list(ids)])
            with torch.inference_mode():
                model.generate(input_ids=x, attention_mask=torch.ones_like(x), max_new_tokens=2, do_sample=False)
                start = time.perf_counter()
                model.generate(
                    input_ids=x,
                    attention_mask=torch.ones_like(x),
                    max_new_tokens=n,
                    min_new_tokens=n,
                    do_sample=False,
                    pad_token_id=tokenizer.eos_token_id,
                )
                out.append((time.perf_counter() - start, n))
    return out


if __name__ == "__main__":
    raise SystemExit(main())
