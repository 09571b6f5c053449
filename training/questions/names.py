"""Named things: people and roles, tools and systems, named plans, phone numbers, Slack channels and
definitions ("Who is the IT Lead?", "Which tool is used to request vacation?", "What is a per diem?")."""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence

from retrieval import DocumentText
from retrieval.text import STOPWORDS
from training.questions.clauses import PREPOSITIONS, parse_subject
from training.questions.context import Context, Draft, word_set
from training.questions.language import (
    NAME,
    PAREN,
    PHONE_NUMBER,
    PROPER,
    ROLE,
    ROLE_WORDS,
    VERBS,
    as_phrase,
    cut,
    key_phrase,
    quote_around,
    render,
    verb_form,
    with_context,
)

_PERSON_ROLE = re.compile(
    rf"\b(?P<name>{NAME}), (?P<role>{ROLE})\b|\b[Tt]he (?P<role2>{ROLE}),? (?:is )?(?P<name2>{NAME})\b"
    rf"|\b(?P<role3>{ROLE}) [-–] (?P<name3>{NAME})\b"
)
_TOOL_NOUNS = word_set("tool system app manager platform software portal service vpn")
_APPOSITIVE = re.compile(
    rf"(?P<article>\b(?:[Aa]n?|[Tt]he) )?\b(?P<name>{PROPER}), (?P<det>our|the company's|the company|the|an?) "
    r"(?P<np>[A-Za-z][\w-]*(?: [a-z][\w-]*){0,3}?)(?=[,.;)]| with\b| for\b| that\b| which\b| where\b| available\b"
    r"| to\b| in\b| on\b|$)"
)
_OWNED = re.compile(rf"\bour (?P<np>[a-z][\w-]*(?: [a-z][\w-]*){{0,2}}),? (?P<name>{PROPER})")
_CALLED = re.compile(
    rf"\b(?P<np>(?:[Tt]he|[Aa]n?|[Oo]ur) [a-z][\w-]*(?: [A-Za-z][\w-]*){{0,3}}),? called (?P<name>{PROPER})"
)
_NAMED = re.compile(
    r"\bthe (?P<name>[A-Z][\w-]*(?: [A-Z][\w-]*)+) (?P<np>[a-z][a-z-]+ [a-z][a-z-]+(?: [a-z][a-z-]+)?)"
    r"(?=[,.;:]| from\b| for\b| in\b| on\b| with\b| to\b| at\b| of\b|$)"
)
_PHONE = re.compile(
    rf"\b(?P<np>the [\w/ -]{{2,40}}?(?:hotline|line|helpdesk|desk|number)) on (?P<phone>{PHONE_NUMBER})"
)


def _is_tool(match: re.Match[str]) -> bool:
    return match["np"].split()[-1].lower() in _TOOL_NOUNS


def known_tools(docs: Sequence[DocumentText]) -> frozenset[str]:
    """Names introduced as "our ... tool/system/app" anywhere in `docs`."""
    return frozenset(
        m.group("name") for d in docs for s in d.sections for m in _APPOSITIVE.finditer(s.text) if _is_tool(m)
    )


def name_drafts(sentence: str, ctx: Context) -> Iterator[Draft]:
    """Named people, tools, plans and numbers: "Who is the IT Lead?", "What is Ledgerly?" and the like."""
    for m in _PERSON_ROLE.finditer(sentence):
        name, role = m["name"] or m["name2"] or m["name3"], m["role"] or m["role2"] or m["role3"]
        if not re.search(rf"(?:{ROLE_WORDS})$", name):
            yield "fact", f"Who is the {role}?", f"{name} is the {role}.", m.group(), name
    for m in _APPOSITIVE.finditer(sentence):
        owner = {"our": "the company's", "the company's": "the company's", "the company": "the company"}.get(m["det"])
        thing = f"{owner or 'the'} {m['np']}"
        asked = f"What is the name of {thing}?" if owner else f"What is {thing} called?"
        yield "fact", asked, f"{thing[:1].upper()}{thing[1:]} is {m['name']}.", m.group(), m["name"]
        article = (m["article"] or "").lower()
        defined = f"{article.capitalize()}{m['name']} is {owner or m['det']} {m['np']}."
        yield "definition", f"What is {article}{m['name']}?", defined, m.group(), m["np"]
    for m in _OWNED.finditer(sentence):
        if set(m["np"].split()) & (PREPOSITIONS | STOPWORDS):
            continue
        owned = f"the company's {m['np']}"
        yield "fact", f"What is the name of {owned}?", f"The company's {m['np']} is {m['name']}.", m.group(), m["name"]
        yield "definition", f"What is {m['name']}?", f"{m['name']} is {owned}.", m.group(), m["np"]
    for m in _CALLED.finditer(sentence):
        thing = " ".join(render(m["np"].split()))
        thing = thing[:1].lower() + thing[1:]
        yield (
            "fact",
            f"What is {thing} called?",
            f"{thing[:1].upper()}{thing[1:]} is called {m['name']}.",
            m.group(),
            m["name"],
        )
    for m in _NAMED.finditer(sentence):
        if not any(verb_form(w) or w in STOPWORDS for w in m["np"].split()):
            yield (
                "fact",
                f"What is the name of the {m['np']}?",
                f"The {m['np']} is called {m['name']}.",
                m.group(),
                m["name"],
            )
    for m in _PHONE.finditer(sentence):
        yield (
            "fact",
            f"What is the phone number of {m['np']}?",
            f"Call {m['np']} on {m['phone']}.",
            m.group(),
            m["phone"],
        )
    channel = re.search(r"#[a-z0-9][\w-]*", sentence)
    if channel and not ctx.is_intro:
        question = f"Which Slack channel should I use for {as_phrase(ctx.heading, ctx)}?"
        yield "fact", question, sentence, quote_around(sentence, channel.group()), channel.group()


_PASSIVE_TOOL = re.compile(
    rf"^(?P<subject>[A-Z][\w' -]{{2,60}}?) (?P<aux>is|are) (?P<part>[a-z]+) (?:in|through|via|using) "
    rf"(?P<tool>{PROPER})"
)
_IMPERATIVE_TOOL = re.compile(
    rf"^(?P<verb>[A-Z][a-z]+) (?P<object>[^;:]{{3,80}}?) (?:in|through|via|using) (?P<tool>{PROPER})\b"
)


def tool_drafts(sentence: str, ctx: Context) -> Iterator[Draft]:
    """Tools by use: "Which tool is used to request vacation?", "Which tool do I use to book all travel?"."""
    passive = _PASSIVE_TOOL.match(sentence)
    form = verb_form(passive["part"]) if passive else None
    subject = parse_subject(passive["subject"].split(), ctx) if passive else None
    if passive and form and form[1] == "past" and subject:
        tool, said = passive["tool"], " ".join(subject)
        question = (
            f"Which tool is used to {form[0]} {said}?"
            if tool in ctx.tools
            else f"Where {passive['aux']} {said} {passive['part']}?"
        )
        yield "fact", with_context(question, ctx), sentence, quote_around(sentence, tool), tool
    imperative = _IMPERATIVE_TOOL.match(sentence)
    if imperative and imperative["verb"].lower() in VERBS:
        what = render(imperative["object"].split())
        if not set(w.lower() for w in what) & {"it", "them", "this", "these", "that"}:
            verb, tool = imperative["verb"].lower(), imperative["tool"]
            question = (
                f"Which tool do I use to {verb} {' '.join(what)}?"
                if tool in ctx.tools
                else f"Where do I {verb} {' '.join(what)}?"
            )
            yield "procedure", with_context(question, ctx), sentence, quote_around(sentence, tool), tool


_DEFINITION = re.compile(
    r"^(?P<subject>(?:[Aa]n?|[Tt]he) [\w' -]{2,40}?|[A-Z][\w-]*(?: [a-z0-9][\w-]*){0,3})(?: (?P<verb>is|are|means)|:)"
    r" (?P<det>an?|any|the|one of the) (?P<body>.+)$"
)


def definition_drafts(sentence: str, ctx: Context) -> Iterator[Draft]:
    """Definitions: "A per diem is a fixed daily allowance ..." -> "What is a per diem?" ("fixed daily allowance")."""
    m = _DEFINITION.match(PAREN.sub("", sentence))
    if not m or len(m["subject"].split()) > 5 or re.fullmatch(r"(?i)the \S+", m["subject"]):
        return
    head = re.split(r"[,;:(.]| (?:that|which|who|where|and|or|to|for|with|in|on|of|by|from)\b", m["body"])[0].split()
    expected = " ".join(head) if 2 <= len(head) <= 5 else key_phrase(cut(m["body"]), m["subject"], ctx)
    if expected:
        subject = as_phrase(m["subject"], ctx)
        question = f"What {'are' if m['verb'] == 'are' else 'is'} {subject}?"
        yield "definition", question, sentence, quote_around(sentence, expected), expected
