"""From a channel's stored documents to examples and a plan (shared by the bot, jobs and CLI)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.orm import Session

from jobs.hardware import Hardware
from orgtune import defaults
from retrieval import DocumentText, SectionText
from storage import documents
from storage.channels import ChannelKey
from training import prompts
from training.examples import Example, generate_examples, split_heldout
from training.models import ModelSpec
from training.plan import Plan, make_plan


@dataclass
class Dataset:
    docs: list[DocumentText]
    shas: dict[int, str]
    train: list[Example]
    heldout: list[Example]

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


def build_dataset(session: Session, key: ChannelKey, spec: ModelSpec, seed: int = 0) -> Dataset:
    docs, shas = channel_documents(session, key)
    examples = generate_examples(docs, spec.max_examples_per_doc, seed=seed)[: defaults.MAX_EXAMPLES_PER_RUN]
    train, heldout = split_heldout(examples, seed=seed)
    return Dataset(docs, shas, train, heldout)


def example_chars(ex: Example) -> int:
    return len(prompts.SYSTEM) + len(prompts.user_message(ex.question, ex.passages)) + len(ex.target)


def plan_for(dataset: Dataset, spec: ModelSpec, hardware: Hardware) -> Plan:
    ordered = dataset.all  # held-out first: make_plan counts the first `heldout` as held out
    return make_plan(
        spec,
        documents=len(dataset.docs),
        example_chars=[example_chars(e) for e in ordered],
        heldout=len(dataset.heldout),
        hardware=hardware,
    )


def documents_from_files(paths: Sequence[Path]) -> list[DocumentText]:
    """Parse local files straight into DocumentTexts (ids 1..n), for benchmarks and tests."""
    from parsing import parse_document

    docs = []
    for i, path in enumerate(paths, 1):
        parsed = parse_document(path.read_bytes(), path.name)
        docs.append(DocumentText(i, path.name, tuple(SectionText(s.heading, s.text) for s in parsed.sections)))
    return docs
