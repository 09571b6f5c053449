"""Texts and Block Kit for training runs: the plan, the live progress message, results."""

from __future__ import annotations

from typing import Any

from bot.messages import escape, plural, truncate
from orgtune import defaults
from training.plan import human_bytes, human_duration

CANCEL_ACTION = "orgtune_cancel_run"

STATUS_LINE = {
    "queued": ":hourglass_flowing_sand: queued, waiting for a training worker",
    "loading": ":package: loading the base model",
    "generating": ":memo: generating training examples from the documents",
    "training": ":weight_lifter: training",
    "evaluating": ":mag: evaluating on held-out questions",
    "done": ":white_check_mark: done",
    "failed": ":x: failed",
    "cancelled": ":no_entry_sign: cancelled",
}


def plan_lines(plan: dict[str, Any]) -> list[str]:
    lines = [
        f"• {plural(plan['documents'], 'document')} → {plural(plan['examples'], 'example')}{_facts(plan)} "
        f"({plan['train_examples']:,} to train on, {plan['heldout_examples']:,} held out to measure)",
        f"• {plan['total_params']:,} parameters, {plan['trainable_params']:,} trainable "
        f"({plan['trainable_percent']:.2f}%), adapter ≈ {human_bytes(plan['adapter_bytes'])}",
        f"• {plan['epochs']} epochs × {plural(plan['steps'] // max(plan['epochs'], 1), 'step')}, "
        f"≈ {plan['train_tokens']:,} tokens; peak memory ≈ {human_bytes(plan['peak_memory_bytes'])}",
        f"• expected duration ≈ {human_duration(plan['duration_s'])} on {plan['hardware']}",
    ]
    if changes := plan.get("changes"):
        lines.append(changes_line(changes))
    lines += [f":warning: {escape(w)}" for w in plan.get("warnings", [])]
    return lines


def _facts(plan: dict[str, Any]) -> str:
    if not plan.get("facts"):
        return ""
    return f" about {plural(plan['facts'], 'fact')}, each asked up to {plan.get('phrasings', 1)} ways"


def changes_line(changes: dict[str, Any]) -> str:
    """What a retrain adds over the last run: new and removed documents, reused examples."""
    new, removed = changes.get("new_documents") or [], changes.get("removed_documents") or []
    parts = [f"new: {', '.join(f'*{escape(n)}*' for n in new)}" if new else "no new documents"]
    if removed:
        parts.append(f"removed: {', '.join(f'*{escape(n)}*' for n in removed)}")
    parts.append(f"{plural(changes.get('reused_examples', 0), 'example')} reused from the last run")
    return "• since the last run: " + "; ".join(parts)


def bar(fraction: float, width: int = defaults.PROGRESS_BAR_WIDTH) -> str:
    filled = max(0, min(width, round(fraction * width)))
    return "`" + "█" * filled + "░" * (width - filled) + f"` {fraction * 100:.0f}%"


def progress_line(p: dict[str, Any]) -> str:
    return (
        f"epoch {p['epoch']}/{p['epochs']} · step {p['step']}/{p['steps']} · loss {p['loss']:.3f} · "
        f"{p['tokens_per_s']:,.0f} tokens/s · ETA {human_duration(p['eta_s'])}\n{bar(p['fraction'])}"
    )


def run_message(run: Any) -> tuple[str, list[dict[str, Any]]]:
    """(fallback text, blocks) for the run's progress message in its current state."""
    head = f"*Training `{run.model}`* for this channel — {STATUS_LINE.get(run.status, run.status)}"
    body: list[str] = []
    if run.status == "training" and run.progress:
        body.append(progress_line(run.progress))
    if run.status == "failed" and run.error:
        body.append(escape(run.error))
    if run.status == "cancelled":
        who = f" by <@{run.cancelled_by}>" if run.cancelled_by else ""
        body.append(f"Stopped{who}. The channel keeps its previous assistant.")
    if run.status == "done":
        body.append("Results are in the thread.")
    if run.plan and run.status in ("queued", "loading", "generating"):
        body += plan_lines(run.plan)
    text = "\n".join([head, *body])
    section = {"type": "mrkdwn", "text": truncate(text, defaults.SLACK_SECTION_CHARS)}
    blocks: list[dict[str, Any]] = [{"type": "section", "text": section}]
    if run.status in ("queued", "loading", "generating", "training", "evaluating"):
        blocks.append(cancel_button(run.id))
    return text, blocks


def cancel_button(run_id: int) -> dict[str, Any]:
    return {
        "type": "actions",
        "block_id": f"run-{run_id}",
        "elements": [
            {
                "type": "button",
                "action_id": CANCEL_ACTION,
                "text": {"type": "plain_text", "text": "Cancel"},
                "style": "danger",
                "value": str(run_id),
                "confirm": {
                    "title": {"type": "plain_text", "text": "Cancel training?"},
                    "text": {"type": "mrkdwn", "text": "The run stops within one training step."},
                    "confirm": {"type": "plain_text", "text": "Cancel it"},
                    "deny": {"type": "plain_text", "text": "Keep training"},
                },
            }
        ],
    }


def results_text(run: Any, version: int, metrics: dict[str, Any]) -> str:
    b, a = metrics["before"], metrics["after"]
    lines = [f"*Results — `{run.model}` v{version}*"]
    quality = metrics.get("quality") or {}
    if quality.get("adapter"):
        lines.append(quality_line(quality, version))
    else:  # runs from before answers were judged as posted
        lines.append(f"• Held-out questions answered right: {b['correct']}/{b['total']} → {a['correct']}/{a['total']}")
    lines.append(f"• Held-out loss: {b['loss']:.3f} → {a['loss']:.3f}")
    if metrics.get("examples"):
        ex = metrics["examples"]
        lines.append(f"• Examples: {ex['train']} trained on, {ex['heldout']} held out (split by fact)")
    if teacher := metrics.get("teacher"):
        lines.append(teacher_line(teacher))
    lines += [
        f"• Duration: {human_duration(metrics['seconds'])} ({metrics['tokens_per_s']:,.0f} training tokens/s "
        f"on {metrics['device']})",
        f"• Adapter: {human_bytes(metrics['adapter_bytes'])}, {metrics['trainable_params']:,} trainable parameters",
        decision_line(version, metrics.get("decision")),
    ]
    return "\n".join(lines)


def quality_line(quality: dict[str, Any], version: int) -> str:
    """Posted-answer accuracy side by side: what each configuration would have told users."""
    total = quality["adapter"]["total"]
    names = [
        ("quote_only", "quote only"),
        ("base", "base model"),
        ("active", "active version"),
        ("adapter", f"v{version}"),
    ]
    scores = " · ".join(f"{label} {quality[key]['correct']}/{total}" for key, label in names if key in quality)
    return (
        f"• Held-out questions answered right, as they would be posted ({total} questions whose facts were not "
        f"trained on): {scores}"
    )


def teacher_line(teacher: dict[str, Any]) -> str:
    rejected = teacher.get("rejected") or {}
    why = ", ".join(f"{reason}: {n}" for reason, n in sorted(rejected.items(), key=lambda kv: -kv[1]))
    line = f"• Teacher `{escape(teacher['name'])}`: {plural(teacher['kept'], 'question')} kept"
    line += f", {sum(rejected.values())} rejected ({why})" if rejected else ""
    if teacher.get("error"):
        line += f"; it stopped with an error, the rest came from the rules: {escape(teacher['error'])}"
    return line


def decision_line(version: int, decision: dict[str, Any] | None) -> str:
    if decision is None or decision["activated"]:
        return f"Version v{version} now answers questions in this channel."
    return (
        f"Version v{version} is kept but not made active: it answered {decision['new_correct']}/{decision['total']} "
        f"held-out questions right, {decision['compared_with']} answered {decision['old_correct']}/"
        f"{decision['total']}. `/orgtune use v{version}` makes it active anyway."
    )


def already_running(run: Any) -> str:
    state = STATUS_LINE.get(run.status, run.status)
    step = ""
    if run.progress and run.status == "training":
        step = f" (step {run.progress['step']}/{run.progress['steps']})"
    who = f", started by <@{run.requested_by}>" if run.requested_by else ""
    return (
        f"A training run is already in progress here: `{run.model}`{who} — {state}{step}. "
        "One run per channel at a time: wait for it, or stop it with its Cancel button or `/orgtune cancel`."
    )


def runs_list(runs: list[Any]) -> str:
    if not runs:
        return "No training runs in this channel yet. Try `/train smollm2`."
    lines = ["*Training runs in this channel (newest first):*"]
    for r in runs:
        acc = ""
        if r.metrics and "after" in r.metrics:
            acc = (
                f" · held-out {r.metrics['before']['correct']}/{r.metrics['before']['total']} → "
                f"{r.metrics['after']['correct']}/{r.metrics['after']['total']}"
            )
        when = r.created_at.strftime("%Y-%m-%d %H:%M")
        lines.append(f"• #{r.id} `{r.model}` — {r.status}{acc} · {when}")
    return "\n".join(lines)
