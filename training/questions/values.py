"""Value questions: numbers, amounts, percentages, dates, times and counted list items
("How many days of paid vacation per year does every full-time employee get?")."""

from __future__ import annotations

import re
from collections.abc import Iterator

from training.questions.clauses import BLOCKERS, PREPOSITIONS, clauses, split_clause, strip_prep
from training.questions.context import Context, Draft, word_set
from training.questions.language import (
    AUX,
    BE,
    DETERMINERS,
    MONTHS,
    NUM,
    VALUE,
    as_phrase,
    cut,
    expected_value,
    pluralize,
    quote_around,
    render,
    verb_form,
    with_context,
)

# --- Values: numbers, amounts, dates, times -------------------------------------------

_DURATIONS = word_set("minutes hours days weeks months years")
_NP_STOP = (
    (PREPOSITIONS - {"of", "per"})
    | DETERMINERS
    | BLOCKERS
    | AUX
    | word_set("be long old ahead early behind later earlier so plus")
)


def value_drafts(sentence: str, ctx: Context) -> Iterator[Draft]:
    """Questions asking for a value: "How many days of paid vacation per year does every full-time employee get?"."""
    for clause, tail in clauses(sentence):
        for match in VALUE.finditer(clause):
            made = _value_question(clause, tail, match, ctx)
            if made:
                kind = "fact" if match.lastgroup == "weekday" else "number"
                yield kind, with_context(made[0], ctx), sentence, quote_around(sentence, match.group()), made[1]


def _value_question(clause: str, tail: str, match: re.Match[str], ctx: Context) -> tuple[str, str] | None:
    """(question, expected) asking for the value `match` in `clause`, or None when the clause doesn't parse."""
    parts = split_clause(clause[: match.start()].split(), ctx)
    if parts is None:
        return None
    subject, aux, verb = parts
    verb, prep = strip_prep(verb)
    if any(w.lower() in BLOCKERS or not re.fullmatch(r"[\w'’-]+", w) for w in verb):
        return None
    if prep is None and verb and verb[-1].lower() in PREPOSITIONS and not (len(verb) > 1 and verb_form(verb[-2])):
        return None
    wh = _wh(match, prep, clause[match.end() :], aux, verb)
    if wh is None:
        return None
    phrase, expected, rest = wh
    post = cut(rest)
    post = post if post.split()[:1] and post.split()[0] in PREPOSITIONS - {"of"} else ""
    if subject == ["I"]:
        aux = {"are": "am", "were": "was", "does": "do", "has": "have"}.get(aux, aux)
    elif subject == ["the company"]:
        aux = {"are": "is", "were": "was", "do": "does", "have": "has"}.get(aux, aux)
    short = [phrase, aux, *subject, *render(verb)]
    # Trailing phrases ("at full pay", "if I suspect it has been exposed") help, unless they make a paragraph.
    versions = ([*short, *render(post.split()), *render(tail.split())], [*short, *render(post.split())], short)
    return " ".join(next(v for v in versions if len(v) <= 18 or v is short)) + "?", expected


def _wh(match: re.Match[str], prep: str | None, right: str, aux: str, verb: list[str]) -> tuple[str, str, str] | None:
    """(question phrase, expected, rest of clause) for one value, e.g. ("Within how many days", "30", "")."""
    kind, value, expected = match.lastgroup, match.group(), expected_value(match)
    if kind == "amount":
        return ("How much", expected, right) if prep is None else None
    if kind == "percent":
        owner = re.match(r" of (?:(your|the|their|our|my) )?", right)
        of = _unit_np(right[owner.end() - 1 :]) if owner else None
        owned = [owner[1]] if owner and owner[1] else []
        phrase = "what percentage" + (f" of {' '.join(render([*owned, *of[0]]))}" if of else "")
        phrase = f"{prep} {phrase}" if prep else phrase
        return (phrase[:1].upper() + phrase[1:], expected, of[1] if of else right) if prep in (None, "at") else None
    if kind in ("time", "date"):
        unit = r"\d{1,2}:\d{2}" if kind == "time" else rf"\d{{1,2}} (?:{MONTHS})(?: \d{{4}})?"
        span = re.match(rf" (?:to|and|until|-|–) {unit}", right)
        if span:
            return ("When", expected, right[span.end() :]) if prep in (None, "from", "between") else None
        if prep == "by":
            return ("By what date" if kind == "date" else "By what time"), expected, right
        if prep in (None, "at" if kind == "time" else "on"):
            return ("At what time" if kind == "time" else "When"), expected, right
        return None
    if kind == "ordinal":
        month = re.match(r" of (?:each|every|the) month", right)
        return ("On which day of the month", expected, right[month.end() :]) if month and prep == "on" else None
    if kind == "weekday":
        return ("On which day", expected, right) if prep in ("every", "on") else None
    return _count_wh(value, prep, right, aux, verb)


def _count_wh(value: str, prep: str | None, right: str, aux: str, verb: list[str]) -> tuple[str, str, str] | None:
    unit = _unit_np(right)
    if unit is None:
        return None
    words, rest = unit
    if value == "1":
        words[0] = pluralize(words[0])
    if prep == "every":
        return "How often", value, rest
    if prep == "at" and "per" in words:
        return "At what rate", value, rest
    if prep is None and aux in BE and not verb and words[0] in _DURATIONS:
        return "How long", f"{value} {words[0]}", rest
    if prep not in (None, "within", "after", "before", "for", "in", "until"):
        return None
    many = "how many " + " ".join(render(words))
    moved = re.match(r" (in advance|ahead|early|long|old|(?:before|after) [^,;.]+)", rest)
    if moved:
        part = cut(moved[1])
        many, rest = f"{many} {' '.join(render(part.split()))}", rest[1 + len(part) :]
    return (f"{prep.capitalize()} {many}" if prep else many.capitalize()), value, rest


def _unit_np(right: str) -> tuple[list[str], str] | None:
    """(unit words, rest) for the words after a number: " days of paid vacation per year, ..." ->
    (["days", "of", "paid", "vacation", "per", "year"], ", ...")."""
    words: list[tuple[str, int]] = []
    for token in re.finditer(r"\S+", right):
        bare = token.group().rstrip(",.;:!?")
        if not re.fullmatch(r"[a-z][a-z-]*", bare) or bare in _NP_STOP or len(words) >= 6:
            break
        words.append((bare, token.start() + len(bare)))
        if bare != token.group():
            break
    while words and words[-1][0] in ("of", "per"):
        words.pop()
    return ([w for w, _ in words], right[words[-1][1] :]) if words else None


_AMOUNT_OR_PERCENT = rf"(?:GBP|USD|EUR|[£$€]) ?(?:{NUM})|(?:{NUM})%"
_AMOUNT_NOUNS = (
    "allowance|budget|stipend|rate|limit|cap|contribution|fee|deposit|bonus|payment|discount|threshold|price"
)
_NP_OF_AMOUNT = re.compile(
    rf"\b(?:[Aa]n?|[Tt]he|[Yy]our|[Oo]ur) (?P<np>(?:[a-z][\w-]* ){{0,4}}?(?:{_AMOUNT_NOUNS})) of (?:up to )?"
    rf"(?P<value>{_AMOUNT_OR_PERCENT})(?P<per>(?: (?:per|every) (?:calendar |working |business )?[a-z]+)?)"
    r"(?P<for> for the (?:[^,;.]|[,.](?=\d))+)?"
)
_VAGUE = word_set("default maximum minimum monthly annual daily standard total one-off new")
_UP_TO = re.compile(rf"^(?P<np>[A-Z][a-z]+(?: [a-z]+){{0,3}}) up to (?P<value>{_AMOUNT_OR_PERCENT})(?P<rest>[^,;.]*)")


def amount_drafts(sentence: str, ctx: Context) -> Iterator[Draft]:
    """Named amounts: "How much is the wellbeing allowance per month?", "What is the maximum dental cover ...?"."""
    for m in _NP_OF_AMOUNT.finditer(sentence):
        if any(verb_form(w) for w in m["np"].split()):
            continue
        ask = "How much is" if m["value"][-1] != "%" else "What is"
        question = f"{ask} the {m['np']}{m['per']}{cut(m['for'] or '') and ' ' + cut(m['for'])}?"
        value = re.search(NUM, m["value"])
        vague = len(set(m["np"].split()) - _VAGUE) <= 1  # "the default limit" needs its section to make sense
        if value:
            yield (
                "number",
                with_context(question, ctx, "for", vague),
                sentence,
                quote_around(sentence, m["value"]),
                value.group(),
            )
    up_to = _UP_TO.match(sentence)
    value = re.search(NUM, up_to["value"]) if up_to else None
    if up_to and value and not any(w in AUX or verb_form(w) for w in up_to["np"].lower().split()):
        question = f"What is the maximum {as_phrase(up_to['np'], ctx)}{up_to['rest']}?"
        yield "number", question, sentence, quote_around(sentence, up_to["value"]), value.group()


def item_drafts(sentence: str, ctx: Context) -> Iterator[Draft]:
    """Verbless list items: "8 free counselling sessions per year" -> "How many ... are included?";
    "09:30 - Arrive at reception" -> "At what time should I arrive at reception?"."""
    timed = re.match(r"(\d{1,2}:\d{2}) [-–] (.+)$", sentence)
    if timed:
        rest = render(cut(timed[2]).split())
        if rest and verb_form(rest[0]) == (rest[0].lower(), "base"):
            question = f"At what time should I {rest[0].lower()} {' '.join(rest[1:])}?"
        else:
            question = f"At what time is the {as_phrase(' '.join(rest), ctx)}?"
        yield "number", question, sentence, quote_around(sentence, timed[1]), timed[1]
        return
    words = re.findall(r"[A-Za-z][\w'-]*", sentence)
    if any(w.lower() in AUX or (verb_form(w) or ("", "past"))[1] in ("base", "s") for w in words):
        return
    for m in re.finditer(rf"(?<![\w.,/+-])({NUM})(?![\w/%-]|[.,:]\d)", sentence):
        unit = _unit_np(sentence[m.end() :])
        before = sentence[: m.start()].split()[-1:]
        if unit and unit[0][0].endswith("s") and not set(before) & PREPOSITIONS:
            question = with_context(f"How many {' '.join(unit[0])} are included?", ctx, "in", True)
            yield "number", question, sentence, quote_around(sentence, m.group()), m.group()
