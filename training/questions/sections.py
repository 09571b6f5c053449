"""Document- and section-level questions: one summary per document, section overviews, procedures
("How do I report a security incident?"), table rows and obligations ("What are the rules for lost cards?")."""

from __future__ import annotations

import re
from collections.abc import Iterator

from retrieval import tokenize
from training.questions.clauses import clauses, parse_subject, split_words
from training.questions.context import Context, Draft, split_sentences, strip_number
from training.questions.language import (
    NAME,
    NUM,
    PAREN,
    ROLE_WORDS,
    as_phrase,
    gerund_phrase,
    join_items,
    key_phrase,
    pluralize,
    quote_around,
    verb_form,
    with_context,
)

# --- Document- and section-level drafts ---------------------------------------------


def _prose(ctx: Context) -> list[str]:
    return [s for s in split_sentences(ctx.text) if s[-1] in ".!?" and len(s.split()) >= 4]


def _first_sentences(sentences: list[str]) -> list[str]:
    """One sentence, or two when the first is short."""
    return sentences[:2] if len(sentences[0].split()) < 15 else sentences[:1]


def summary_drafts(ctx: Context) -> Iterator[Draft]:
    """One per document: "What is the Expense Policy about?" from the first real sentence."""
    if ctx.section_index != 0:
        return
    sentences = [s for s in _prose(ctx) if len(s.split()) >= 8]
    if not sentences:
        return
    headings = [h for h in (as_phrase(strip_number(s.heading), ctx) for s in ctx.doc.sections[1:5]) if h]
    question = f"What is {ctx.label} about?"
    expected = key_phrase(sentences[0], question, ctx)
    if expected:
        covers = f" It covers {join_items(headings)}." if headings else ""
        yield "summary", question, sentences[0] + covers, sentences[0], expected


def heading_drafts(ctx: Context) -> Iterator[Draft]:
    """Overview questions: "What does <document> say about <heading>?"; for "Reporting X", "How do I report X?"."""
    sentences = _prose(ctx)
    phrase = as_phrase(ctx.heading, ctx)
    if ctx.is_intro or not sentences or not phrase or set(tokenize(phrase)) <= set(tokenize(ctx.label)):
        return
    if phrase.split()[0] in ("before", "after", "during", "while"):
        question = f"What happens {phrase}?"
    else:
        question = f"What does {ctx.label} say about {phrase}?"
    yield from _overview("section", question, _first_sentences(sentences), ctx)
    gerund = gerund_phrase(ctx.heading, ctx)
    if gerund:
        steps = [s for s in sentences if (verb_form(s.split()[0]) or ("", ""))[1] == "base"] or sentences
        yield from _overview("procedure", f"How do I {gerund}?", steps[:2], ctx)


def _overview(kind: str, question: str, sentences: list[str], ctx: Context) -> Iterator[Draft]:
    answer = " ".join(sentences)
    expected = key_phrase(answer, question, ctx)
    quote = next((s for s in sentences if expected and expected in s), None)
    if expected and quote:
        yield kind, question, answer, quote, expected


def table_drafts(ctx: Context) -> Iterator[Draft]:
    """Rows of "a | b | c" tables (consecutive paragraphs; the first is the header)."""
    header: list[str] | None = None
    for paragraph in ctx.text.split("\n\n"):
        if " | " not in paragraph:
            header = None
            continue
        cells = [c.strip() for c in paragraph.strip("| ").split("|")]
        if header is None:
            header = cells
        elif len(cells) == len(header):
            yield from _row_drafts(header, cells, paragraph, ctx)


def _row_drafts(header: list[str], cells: list[str], row: str, ctx: Context) -> Iterator[Draft]:
    subject = cells[0]
    numbered = bool(re.fullmatch(r"[\d.]+", subject))  # "level 4" needs its table's section to make sense
    if numbered:
        subject = f"{header[0].lower()} {subject}"
    elif (len(subject.split()) > 1 and subject.split()[1][:1].islower()) or subject.lower() in ctx.lower:
        subject = subject[:1].lower() + subject[1:]
    subject = join_items([part.strip() for part in subject.split(",") if part.strip()])
    if not subject:
        return
    for column, value in zip(header[1:], cells[1:], strict=True):
        unit = re.search(r"\(([^)]*)\)", column)
        name = PAREN.sub("", column).strip().lower()
        if not name or not value:
            continue
        answer = f"The {name} for {subject} is {value}{f' ({unit.group(1)})' if unit else ''}."
        number = re.fullmatch(rf"(?:(?:GBP|USD|EUR|[£$€]) ?)?({NUM})", value)
        person = next((m.group() for m in re.finditer(NAME, value) if not re.search(ROLE_WORDS, m.group())), None)
        channel = re.search(r"#[a-z0-9][\w-]*", value)
        if number:
            yield (
                "number",
                with_context(f"What is the {name} for {subject}?", ctx, "in", numbered),
                answer,
                row,
                number[1],
            )
        elif len(value.split()) <= 3 and not re.search(r"\d", value):
            yield "fact", with_context(f"What is the {name} for {subject}?", ctx, "in", numbered), answer, row, value
        if person:
            yield "fact", f"Who is the {name} for {subject}?", answer, row, person
        if channel:
            yield "fact", f"Which Slack channel is for {subject}?", answer, row, channel.group()


def must_drafts(sentence: str, ctx: Context) -> Iterator[Draft]:
    """Obligations: "Lost cards must be reported to Finance ..." -> "What are the rules for lost cards?"."""
    for clause, _ in clauses(sentence):
        words = clause.split()
        split = split_words(words)
        if split is None or split[1] != "must":
            continue
        subject = parse_subject(words[: split[0]], ctx)
        if not subject or subject[0] == "I" or (subject[0] == "the" and len(subject) <= 2):
            continue
        if subject[0] in ("every", "each", "a", "an", "any") and len(subject) > 1:
            subject = [*subject[1:-1], pluralize(subject[-1]) if not subject[-1].endswith("s") else subject[-1]]
        question = f"What are the rules for {' '.join(subject)}?"
        expected = key_phrase(" ".join(split[2]), question, ctx)
        if expected and expected in sentence:
            yield "procedure", question, sentence, quote_around(sentence, expected), expected
