"""What a run measures and decides: posted-answer judging, activation, the teacher's part in the examples."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest

from answering.judge import Case, Judge, Judged, Quality
from bot.run_messages import results_text
from jobs.quality import ActiveVersion, cases, decide
from retrieval import DocumentText
from training.dataset import TeacherReport, documents_from_files
from training.examples import Example, generate_examples
from training.scoring import contains
from training.split import split_heldout

HANDBOOK = Path(__file__).resolve().parent.parent / "samples" / "handbook"


@pytest.fixture(scope="module")
def docs() -> list[DocumentText]:
    return documents_from_files(sorted(HANDBOOK.iterdir()))


def _quality(*correct: bool) -> Quality:
    return Quality([Judged(f"q{i}", "x", "a", "generated", ok) for i, ok in enumerate(correct)])


def test_a_new_version_is_activated_unless_it_is_worse_than_what_is_in_use() -> None:
    base, good, bad = _quality(True, False, False), _quality(True, True, False), _quality(False, False, False)
    assert decide({"base": base, "adapter": good}, None).activate
    assert decide({"base": base, "adapter": _quality(True, False, False)}, None).activate  # a tie is not worse
    d = decide({"base": base, "adapter": bad}, None)
    assert (d.activate, d.compared_with, d.new_correct, d.old_correct, d.total) == (False, "the base model", 0, 1, 3)
    active = ActiveVersion(2, "smollm2", Path("/x"))
    d = decide({"base": bad, "active": good, "adapter": base}, active)
    assert (d.activate, d.compared_with) == (False, "v2")  # better than the base, worse than v2
    assert decide({"base": base, "adapter": good}, active).compared_with == "the base model"  # v2 is another model


def test_the_results_say_why_a_version_was_not_activated() -> None:
    metrics = {
        "before": {"loss": 2.0, "correct": 5, "total": 9},
        "after": {"loss": 1.0, "correct": 4, "total": 9},
        "quality": {
            "quote_only": {"correct": 3, "total": 9},
            "base": {"correct": 5, "total": 9},
            "adapter": {"correct": 4, "total": 9},
        },
        "examples": {"train": 120, "heldout": 21},
        "decision": {
            "activated": False,
            "compared_with": "the base model",
            "new_correct": 4,
            "old_correct": 5,
            "total": 9,
        },
        "seconds": 60,
        "tokens_per_s": 100,
        "device": "cpu",
        "adapter_bytes": 1000,
        "trainable_params": 10,
    }
    text = results_text(SimpleNamespace(model="smollm2"), 2, metrics)
    assert "quote only 3/9 · base model 5/9 · v2 4/9" in text
    assert "120 trained on, 21 held out" in text
    assert "v2 is kept but not made active" in text and "`/orgtune use v2`" in text
    metrics["decision"]["activated"] = True
    assert "Version v2 now answers questions in this channel." in results_text(
        SimpleNamespace(model="smollm2"), 2, metrics
    )


def test_held_out_cases_are_the_questions_the_whole_channel_can_be_asked(docs: list[DocumentText]) -> None:
    examples = generate_examples(docs, 8, phrasings=3)
    _, heldout = split_heldout(examples)
    asked = cases(heldout)
    kinds = {e.question: e for e in heldout}
    assert asked and all(kinds[c.question].kind not in ("no_gold",) for c in asked)
    assert all(c.expected is not None or kinds[c.question].off_topic for c in asked)
    assert any(c.expected is None for c in asked)


def test_quote_only_judging_needs_no_model(docs: list[DocumentText]) -> None:
    judge = Judge(
        docs,
        [Case("How many paid vacation days do full-time employees get?", "27"), Case("Who won the chess cup?", None)],
        "smollm2",
    )
    quality = judge(None)
    assert quality.total == 2 and quality.correct == 2
    summary = quality.to_dict()
    assert (summary["answerable_correct"], summary["not_covered_correct"], summary["quoted"]) == (1, 1, 1)


class _Teacher:
    """A canned teacher: the mechanical checks and the wiring are under test, not a model's skill."""

    name = "canned"

    def complete(self, messages: list[dict[str, str]]) -> str:
        prompt = messages[-1]["content"]
        if "Section: Vacation\n" not in prompt:
            return "I can't help with that."
        fact = {
            "quote": "Every full-time employee receives 27 days of paid vacation per year",
            "answer": "You get 27 days of paid vacation a year.",
            "expected": "27 days",
        }
        lines = [
            {"question": "How much paid vacation does a full-timer get each year?", **fact},
            {"question": "hey how many vacay days do we get", **fact},
            {"question": "do full timers get 27 days off?", **fact},  # gives the answer away: rejected
            {"question": "What do new staff get?", **fact, "quote": "New staff get a pony."},  # not in the document
        ]
        return "\n".join(json.dumps(line) for line in lines)


def test_teacher_questions_are_checked_and_become_facts_and_phrasings(docs: list[DocumentText]) -> None:
    vacation = next(s for s in docs[0].sections if s.heading == "Vacation")
    assert "Every full-time employee receives 27 days of paid vacation per year" in vacation.text
    report = TeacherReport(_Teacher())
    examples = generate_examples(docs, 8, phrasings=3, extra=report.drafts)
    taught = [e for e in examples if e.kind == "teacher"]
    assert taught, "the teacher's fact is preferred to the rules' in its section"
    assert {e.question for e in taught} >= {"How much paid vacation does a full-timer get each year?"}
    assert any(e.phrasing == "teacher" for e in taught)  # its paraphrase is used as a phrasing of the fact
    assert all(not contains(e.question, "27 days") for e in examples if e.expected)
    assert report.to_dict()["kept"] == 2
    assert report.to_dict()["rejected"] == {
        "answer given away": 1,
        "quote not in document": 1,
        "no JSON items in the reply": sum(len(d.sections) for d in docs) - 1,
    }


def test_a_failing_teacher_leaves_the_rules_to_it(docs: list[DocumentText]) -> None:
    from training.teacher import TeacherError

    class Down:
        name = "down"

        def complete(self, messages: list[dict[str, str]]) -> str:
            raise TeacherError("teacher server http://gpu-1:8000/v1 is unreachable")

    report = TeacherReport(Down())
    examples = generate_examples(docs, 4, phrasings=2, extra=report.drafts)
    assert examples and not [e for e in examples if e.kind == "teacher"]
    assert report.to_dict()["error"] == "teacher server http://gpu-1:8000/v1 is unreachable"


def test_examples_stored_before_phrasings_and_facts_still_load() -> None:
    old = {
        "kind": "number",
        "question": "How many days?",
        "answer": "27 days.",
        "quote": "27 days of leave",
        "expected": "27",
        "document_id": 1,
        "document": "a.md",
        "section": "Leave",
        "passages": [{"document": "a.md", "section": "Leave", "text": "27 days of leave"}],
        "source": 1,
    }
    example = Example.from_dict(old)
    assert (example.phrasing, example.fact, example.target) == (
        "direct",
        "",
        "Quote: 27 days of leave\nAnswer: 27 days.",
    )


def test_the_results_say_what_the_teacher_did() -> None:
    from bot.run_messages import plan_lines, teacher_line

    line = teacher_line(
        {"name": "qwen at http://gpu-1:8000/v1", "kept": 41, "rejected": {"near duplicate": 2, "answer given away": 7}}
    )
    assert line == (
        "• Teacher `qwen at http://gpu-1:8000/v1`: 41 questions kept, 9 rejected "
        "(answer given away: 7, near duplicate: 2)"
    )
    down = teacher_line({"name": "t", "kept": 0, "rejected": {}, "error": "unreachable"})
    assert "the rest came from the rules: unreachable" in down
    plan = {
        "documents": 6, "examples": 142, "facts": 47, "phrasings": 3, "train_examples": 121, "heldout_examples": 21,
        "total_params": 10, "trainable_params": 1, "trainable_percent": 10.0, "adapter_bytes": 1000, "epochs": 2,
        "steps": 62, "train_tokens": 900, "peak_memory_bytes": 1000, "duration_s": 60, "hardware": "CPU",
    }  # fmt: skip
    assert plan_lines(plan)[0] == (
        "• 6 documents → 142 examples about 47 facts, each asked up to 3 ways (121 to train on, 21 held out to measure)"
    )
