"""Adapter versions end to end: /train twice, what a retrain reuses, /orgtune adapters, /orgtune use."""

from __future__ import annotations

import time

from sqlalchemy import select

from storage.models import Adapter, Document, Example, Question, RunStatus, TrainingRun
from tests.conftest import SAMPLES, Stack

HANDBOOK = SAMPLES / "handbook"


def _share(stack: Stack, name: str) -> None:
    shared = stack.driver.share_file("C0A", "U0ALICE", name, (HANDBOOK / name).read_bytes())
    assert stack.reply_in("C0A", shared.message.ts).startswith("Added")


def _slash(stack: Stack, text: str) -> tuple[str, str | None]:
    """(response text, who it was shown to: a user id, or None for the whole channel)."""
    before = len([m for m in stack.ws.messages if m.via == "response_url"])
    assert stack.driver.slash("/orgtune", text, "C0A", "U0ALICE").status == 200
    msgs = stack.ws.wait_for(lambda: [m for m in stack.ws.messages if m.via == "response_url"][before:] or None)
    return str(msgs[0].text), msgs[0].ephemeral_to


def _train(stack: Stack) -> TrainingRun:
    before = len(stack.ws.calls_to("chat.postMessage"))
    assert stack.driver.slash("/train", "tiny", "C0A", "U0ALICE").status == 200
    posted = stack.ws.wait_for(
        lambda: next((c for c in stack.ws.calls_to("chat.postMessage")[before:] if "*Training `" in str(c.args)), None),
        timeout=60,
    )
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        with stack.db.session() as s:
            run = s.scalars(select(TrainingRun).order_by(TrainingRun.id.desc())).first()
            if run is not None and run.status in RunStatus.FINAL:
                assert run.status == RunStatus.DONE, run.error
                run.progress_ts = str(posted.args)  # the plan as first posted, for the test to read
                s.expunge(run)
                return run
        time.sleep(0.3)
    raise AssertionError(f"run did not finish:\n{stack.worker_output()[-3000:]}")


def _examples(stack: Stack, run_id: int, doc_id: int) -> list[dict]:  # type: ignore[type-arg]
    """A run's stored examples counted toward one document (by the id in the example itself)."""
    with stack.db.session() as s:
        rows = s.scalars(select(Example).where(Example.run_id == run_id).order_by(Example.id)).all()
        return [{"split": r.split, **r.data} for r in rows if r.data.get("document_id") == doc_id]


def _doc_ids(stack: Stack) -> dict[str, int]:
    with stack.db.session() as s:
        return {d.name: d.id for d in s.scalars(select(Document)).all()}


def test_versions_retraining_forget_and_rollback(stack: Stack) -> None:
    for name in ("benefits.md", "expenses.md"):
        _share(stack, name)
    stack.start_trainer()
    stack.start_answerer()
    v1_run = _train(stack)
    assert "since the last run" not in (v1_run.progress_ts or "")

    # A new document: the retrain's plan says what is new, and unchanged documents' examples are reused as they were.
    _share(stack, "security.md")
    v2_run = _train(stack)
    assert "since the last run: new: *security.md*" in (v2_run.progress_ts or "")
    assert "reused from the last run" in (v2_run.progress_ts or "")
    assert v2_run.plan and v2_run.plan["changes"]["reused_examples"] > 0
    ids = _doc_ids(stack)
    for doc in ("benefits.md", "expenses.md"):
        assert _examples(stack, v2_run.id, ids[doc]) == _examples(stack, v1_run.id, ids[doc]) != []
    assert _examples(stack, v2_run.id, ids["security.md"]) and not _examples(stack, v1_run.id, ids["security.md"])

    # Forget a document and train again: v3 doesn't know it, and the plan says it was removed.
    assert _slash(stack, "forget expenses.md")[0].startswith("Forgot *expenses.md*")
    v3_run = _train(stack)
    assert "removed: *expenses.md*" in (v3_run.progress_ts or "")
    with stack.db.session() as s:
        versions = {a.version: a for a in s.scalars(select(Adapter).where(Adapter.channel_id == "C0A")).all()}
    assert sorted(versions) == [1, 2, 3]
    assert [d["name"] for d in versions[1].documents or []] == ["benefits.md", "expenses.md"]
    assert [d["name"] for d in versions[3].documents or []] == ["benefits.md", "security.md"]
    assert not _examples(stack, v3_run.id, ids["expenses.md"])

    listing, shown_to = _slash(stack, "adapters")
    assert shown_to == "U0ALICE" and listing.index("*v3*") < listing.index("*v2*") < listing.index("*v1*")
    assert "▶ *v3*" in listing and "2 documents (benefits.md, security.md)" in listing

    # Roll back to v1: the whole channel is told, and the next answer comes from v1.
    switched, shown_to = _slash(stack, "use v1")
    assert shown_to is None and "switched this channel's assistant to *v1*" in switched
    assert _slash(stack, "use v1")[0] == "v1 already answers in this channel."
    assert _slash(stack, "use v9")[0].startswith("There is no v9. This channel's versions: v1, v2, v3.")
    msg, _ = stack.driver.mention("C0A", "U0ALICE", "how many vacation days do we get per year?")
    stack.ws.wait_for(lambda: [m for m in stack.ws.replies("C0A", msg.ts) if m.user == stack.ws.bot_user_id] or None)
    with stack.db.session() as s:
        q = s.scalars(select(Question).order_by(Question.id.desc())).first()
        assert q is not None and q.adapter_version == 1
    assert "▶ *v1*" in _slash(stack, "adapters")[0]


def test_export_from_slack_writes_a_checked_peft_adapter(stack: Stack) -> None:
    _share(stack, "benefits.md")
    stack.start_trainer()
    assert _slash(stack, "export peft")[0].startswith("Nothing to export: no trained version (none yet).")
    _train(stack)
    assert _slash(stack, "export zip")[0].startswith("Usage: `/orgtune export peft|merged|ollama [v<N>]`")
    assert _slash(stack, "export peft v4")[0] == "Nothing to export: no v4 (v1)."
    queued, shown_to = _slash(stack, "export peft")
    assert shown_to is None and "an export of *v1* (`tiny`) as `peft`" in queued
    done = stack.ws.wait_for(
        lambda: next((m for m in stack.ws.bot_messages("C0A") if m.text.startswith(":package: Exported")), None),
        timeout=180,
    )
    assert "Checked by loading it back" in done.text and "PeftModel.from_pretrained" in done.text
    out = stack.config.artifacts_dir / "exports" / f"{stack.ws.team_id}-C0A" / "v1-peft"
    assert (out / "adapter_model.safetensors").is_file() and (out / "adapter_config.json").is_file()
