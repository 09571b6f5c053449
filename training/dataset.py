"""From a channel's stored documents to examples and a plan (shared by the bot, jobs and CLI)."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from jobs.hardware import Hardware
from orgtune import defaults
from retrieval import DocumentText, SectionText
from storage import documents, runs
from storage.channels import ChannelKey
from training import prompts
from training.examples import Example, generate_examples
from training.models import ModelSpec
from training.plan import Plan, make_plan
from training.questions import Draft
from training.split import split_heldout
from training.teacher import Teacher, TeacherError, teacher_drafts

log = logging.getLogger(__name__)


@dataclass
class Dataset:
    docs: list[DocumentText]
    shas: dict[int, str]
    train: list[Example]
    heldout: list[Example]
    reused: int = 0
    """Examples taken unchanged from the previous successful run (their documents didn't change)."""
    previous_run: int | None = None
    new_documents: list[str] = field(default_factory=list)
    """Names of documents added or changed since the previous run (all of them on a first run)."""
    removed_documents: list[str] = field(default_factory=list)
    teacher: dict[str, Any] | None = None
    """What the teacher did (name, kept, rejected by reason, an error that made the run use rules alone)."""

    @property
    def all(self) -> list[Example]:
        return [*self.heldout, *self.train]


def channel_documents(session: Session, key: ChannelKey) -> tuple[list[DocumentText], dict[int, str]]:
    """The channel's ready documents as plain text, and each one's content hash."""
    docs, shas = [], {}
    for doc in documents.ready(session, key):
        sections = tuple(SectionText(s.heading, s.text) for s in doc.sections)
        docs.append(DocumentText(doc.id, doc.name, sections))
        shas[doc.id] = doc.sha256 or ""
    return docs, shas


def build_dataset(
    session: Session, key: ChannelKey, spec: ModelSpec, seed: int = 0, teacher: Teacher | None = None
) -> Dataset:
    """The channel's examples for ``spec``: reused from its last successful run of that model for documents
    whose content is unchanged (same split as before), generated afresh for new or changed ones (with
    ``teacher``'s questions as well as the rules' when one is given)."""
    docs, shas = channel_documents(session, key)
    previous = runs.latest_done(session, key, spec.name)
    kept: dict[int, list[tuple[str, Example]]] = {}
    if previous is not None:
        for row in runs.examples(session, previous.id):
            # a forgotten document's examples lose their document_id (ON DELETE SET NULL) and are never reused
            if row.document_id is not None and row.document_sha256 and shas.get(row.document_id) == row.document_sha256:
                kept.setdefault(row.document_id, []).append((row.split, Example.from_dict(row.data)))
    fresh_docs = {d.id for d in docs if d.id not in kept}
    report = TeacherReport(teacher) if teacher is not None else None
    extra = report.drafts if report is not None else None
    made = generate_examples(docs, spec.max_examples_per_doc, seed=seed, phrasings=spec.phrasings, extra=extra)
    fresh = [e for e in made if e.document_id in fresh_docs]
    fresh_train, fresh_heldout = split_heldout(fresh, seed=seed)
    reused = [pair for d in docs for pair in kept.get(d.id, [])]
    train = [e for split, e in reused if split == "train"] + fresh_train
    heldout = [e for split, e in reused if split == "heldout"] + fresh_heldout
    train, heldout = _cap(train, heldout)
    before = runs.adapter_for_run(session, previous.id) if previous else None
    current = {d.id for d in docs}
    return Dataset(
        docs,
        shas,
        train,
        heldout,
        reused=len(reused),
        previous_run=previous.id if previous else None,
        new_documents=[d.name for d in docs if d.id in fresh_docs],
        removed_documents=[d["name"] for d in (before.documents if before else None) or [] if d["id"] not in current],
        teacher=report.to_dict() if report is not None else None,
    )


class TeacherReport:
    """Asks the teacher section by section and keeps count; the first error ends its part in the run
    (the rules alone carry on, and the results say why)."""

    def __init__(self, teacher: Teacher) -> None:
        self.teacher = teacher
        self.kept = 0
        self.rejected: Counter[str] = Counter()
        self.error: str | None = None
        self._accepted: list[str] = []

    def drafts(self, doc: DocumentText, section_index: int) -> list[Draft]:
        if self.error is not None:
            return []
        section = doc.sections[section_index]
        try:
            found, rejected = teacher_drafts(
                self.teacher, doc.name, section.heading, section.text, accepted=self._accepted
            )
        except TeacherError as exc:
            log.warning("teacher failed; using the rule-based questions only: %s", exc)
            self.error = str(exc)
            return []
        self.kept += len(found)
        self.rejected.update(rejected)
        return found

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.teacher.name, "kept": self.kept, "rejected": dict(self.rejected), "error": self.error}


def _cap(train: list[Example], heldout: list[Example]) -> tuple[list[Example], list[Example]]:
    """At most MAX_EXAMPLES_PER_RUN in all, held-out first (it measures the run)."""
    heldout = heldout[: defaults.MAX_EXAMPLES_PER_RUN]
    return train[: max(0, defaults.MAX_EXAMPLES_PER_RUN - len(heldout))], heldout


def example_chars(ex: Example) -> int:
    return len(prompts.SYSTEM) + len(prompts.user_message(ex.question, ex.passages)) + len(ex.target)


def plan_for(dataset: Dataset, spec: ModelSpec, hardware: Hardware) -> Plan:
    ordered = dataset.all  # held-out first: make_plan counts the first `heldout` as held out
    plan = make_plan(
        spec,
        documents=len(dataset.docs),
        example_chars=[example_chars(e) for e in ordered],
        heldout=len(dataset.heldout),
        hardware=hardware,
    )
    plan.facts = len({e.fact or e.question for e in ordered})
    plan.phrasings = spec.phrasings
    if dataset.previous_run is not None:
        plan.changes = {
            "new_documents": dataset.new_documents,
            "removed_documents": dataset.removed_documents,
            "reused_examples": dataset.reused,
            "previous_run": dataset.previous_run,
        }
    return plan


def documents_from_files(paths: Sequence[Path]) -> list[DocumentText]:
    """Parse local files straight into DocumentTexts (ids 1..n), for benchmarks and tests."""
    from parsing import parse_document

    docs = []
    for i, path in enumerate(paths, 1):
        parsed = parse_document(path.read_bytes(), path.name)
        docs.append(DocumentText(i, path.name, tuple(SectionText(s.heading, s.text) for s in parsed.sections)))
    return docs
