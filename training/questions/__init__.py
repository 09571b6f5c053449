"""Rule-based question generation for `training.examples` (private to it).

Rules read one section at a time (`Context`) and yield `Draft`s: (kind, question, answer, quote,
expected). `training.examples` builds the contexts, checks each draft against the invariants and
attaches passages. Modules: `context` (Context, Draft, vocabulary, document labels), `language`
(patterns, phrase and verb helpers), `clauses` (subject/aux/verb parsing), `values`, `names` and
`sections` (the rules).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from training.questions.context import Context, Draft, doc_label, split_sentences, vocabulary
from training.questions.names import definition_drafts, known_tools, name_drafts, tool_drafts
from training.questions.sections import heading_drafts, must_drafts, summary_drafts, table_drafts
from training.questions.values import amount_drafts, item_drafts, value_drafts

__all__ = ["Context", "Draft", "doc_label", "known_tools", "section_drafts", "vocabulary"]


def section_drafts(ctx: Context) -> Iterator[Draft]:
    yield from summary_drafts(ctx)
    yield from table_drafts(ctx)
    yield from heading_drafts(ctx)
    for sentence in split_sentences(ctx.text):
        for rule in _SENTENCE_RULES:
            yield from rule(sentence, ctx)


_SENTENCE_RULES: tuple[Callable[[str, Context], Iterator[Draft]], ...] = (
    value_drafts,
    amount_drafts,
    item_drafts,
    name_drafts,
    tool_drafts,
    definition_drafts,
    must_drafts,
)
