"""Text and grammar helpers shared by the question rules: value and name patterns, turning document
phrases into question phrases (second person -> first person), key phrases, quotes and verb forms."""

from __future__ import annotations

import re
from itertools import pairwise

from retrieval import tokenize
from retrieval.text import STOPWORDS
from training.questions.context import Context, word_set
from training.scoring import contains

# --- Shared phrase handling -------------------------------------------------------

MONTHS = "January|February|March|April|May|June|July|August|September|October|November|December"
NUM = r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?"
VALUE = re.compile(
    rf"(?P<amount>\b(?:GBP|USD|EUR) ?(?:{NUM})|[£$€](?:{NUM}))"
    rf"|(?P<percent>(?<![\w.])(?:{NUM})%)"
    r"|(?P<time>\b\d{1,2}:\d{2}\b)"
    rf"|(?P<date>\b\d{{1,2}} (?:{MONTHS})(?: \d{{4}})?\b)"
    r"|(?P<ordinal>\b\d{1,2}(?:st|nd|rd|th)\b)"
    r"|(?P<weekday>\b(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)\b)"
    rf"|(?P<number>(?<![\w.,/+-])(?:{NUM})(?![\w/%-]|[.,:]\d))"
)
PROPER = r"[A-Z][\w-]*(?: (?:for |of |and )?[A-Z][\w-]*)*"
NAME = r"[A-Z][a-z]+(?: [A-Z][a-z]+){1,2}"
ROLE_WORDS = r"Lead|Director|Manager|Controller|Officer|Coordinator|Administrator"
ROLE = rf"(?:Head of [A-Z][a-z]+|(?:(?!The )[A-Z][A-Za-z]+ ){{0,2}}(?:{ROLE_WORDS})|CEO|CFO|CTO|COO)"
_CUT = re.compile(
    r",(?!\d)|[;:(]| (?:and|or|but|which|so|unless|except|because|while|plus|whereas|followed|although)\b"
)
PHONE_NUMBER = r"\+\d[\d ]{6,}\d"
PAREN = re.compile(r"\s*\([^()]*\)")


def cut(text: str) -> str:
    """`text` up to the end of its first clause, without final punctuation."""
    match = _CUT.search(text)
    return (text[: match.start()] if match else text).strip().rstrip(".!?")


def is_proper(word: str, ctx: Context) -> bool:
    bare = word.strip(".,;:!?\"'()")
    return bare in ctx.proper or (len(bare) > 1 and bare.isupper()) or any(c.isupper() for c in bare[1:])


def as_phrase(text: str, ctx: Context) -> str:
    """A heading or label as used mid-question: first word lowercased unless it is a name; "your" -> "my"."""
    words = text.split()
    named = len(words) > 1 and (words[1][:1].isupper() or words[1][:1].isdigit())
    if words and not named and not is_proper(words[0], ctx):
        words[0] = words[0].lower()
    return " ".join(render(words, swaps={"your": "my"}))


def render(words: list[str], subject: bool = False, swaps: dict[str, str] | None = None) -> list[str]:
    """Turn the documents' second person into the asker's first person ("you" -> "I"/"me", "your" -> "my")."""
    swaps = swaps or {"your": "my", "yours": "mine", "yourself": "myself", "our": "the company's", "we": "the company"}
    out = []
    for i, word in enumerate(words):
        lower = word.lower()
        if lower == "you":
            before = words[i - 1].lower() if i else ""
            is_object = before in _OBJECT_MARKERS or (before and (verb_form(before) or ("", "ing"))[1] != "ing")
            out.append("me" if is_object and not subject else "I")
        elif out[-1:] == ["I"] and lower in ("are", "were"):
            out.append("am" if lower == "are" else "was")
        else:
            out.append(swaps.get(lower, word))
    return out


# Words that make a poor half of a key phrase ("pattern once", "provider immediately").
_FUNCTION_WORDS = STOPWORDS | word_set("""
    once cannot also only never then here against above below after before within without more less most least
    such same other another very up out off over under until while whether either neither because since although
    unless""")
# After these (or after a verb), "you" is an object: "send you" -> "send me", "if you" -> "if I".
_OBJECT_MARKERS = word_set("to with for from at by of about on in into than like give tell")


def key_phrase(text: str, avoid: str, ctx: Context) -> str | None:
    """The most distinctive phrase of `text` (highest mean IDF of its terms) not in `avoid`: a channel,
    phone number, value, name or pair of content words."""
    found: list[tuple[int, str]] = [(m.start(), m.group()) for m in re.finditer(r"#[a-z0-9][\w-]*", text)]
    phones = [(m.start(), m.group()) for m in re.finditer(PHONE_NUMBER, text)]
    inside_phone = {i for start, phone in phones for i in range(start, start + len(phone))}
    found += phones + [(m.start(), expected_value(m)) for m in VALUE.finditer(text) if m.lastgroup != "weekday"]
    found = [(start, phrase) for start, phrase in found if start not in inside_phone or (start, phrase) in phones]
    for m in re.finditer(PROPER, text):
        mid_sentence = re.search(r"[\w,]\s+$", text[: m.start()])  # capitalised after a word: a name
        if mid_sentence or is_proper(m.group().split()[0], ctx):
            found.append((m.start(), m.group()))
    words = list(re.finditer(r"\b[a-z][a-z'-]{2,}\b", text))
    for first, second in pairwise(words):
        pair = [first.group(), second.group()]
        verbs = [(verb_form(w) or ("", "ing"))[1] for w in pair]
        if (
            text[first.end() : second.start()] == " "
            and not set(pair) & _FUNCTION_WORDS
            and not {"base", "s"} & set(verbs)
        ):
            found.append((first.start(), text[first.start() : second.end()]))
    best: tuple[float, int, str] | None = None
    for start, phrase in found:
        terms = tokenize(phrase)
        if not terms or contains(avoid, phrase) or phrase.lower() in ctx.label.lower():
            continue
        score = sum(ctx.index.idf(t) for t in terms) / len(terms)
        if best is None or (score, -start) > (best[0], -best[1]):
            best = (score, start, phrase)
    return best[2] if best else None


def expected_value(match: re.Match[str]) -> str:
    """The key answer of a value: the number of an amount, else the value as written."""
    if match.lastgroup == "amount":
        number = re.search(NUM, match.group())
        return number.group() if number else match.group()
    return match.group()


def quote_around(sentence: str, needle: str) -> str:
    """The clause of `sentence` around `needle` (split at ';' and at commas not inside numbers)."""
    at = sentence.find(needle)
    if at < 0:
        return sentence
    start = max((m.end() for m in re.finditer(r";\s*", sentence[:at])), default=0)
    end_match = re.search(r"[;,](?!\d)", sentence[at + len(needle) :])
    end = at + len(needle) + end_match.start() if end_match else len(sentence)
    return sentence[start:end].strip()


# --- Verbs ------------------------------------------------------------------------

VERBS = word_set("""
    accrue agree allow appear apply approve arrive ask assign attend audit become block book bring buy call carry
    change check choose claim click close complete contribute decide delete disable earn enable encrypt enrol enroll
    expire fall fill follow forward get give go grant hold include install investigate issue join keep leave lock
    lose make match meet need notify offer organise organize pay photograph post prepare provide purchase raise receive
    record reimburse reject remain report request require return review revoke run schedule send share shadow sign
    spend start stay store submit take tell update use visit work travel write describe explain define outline
    contain set""")
_IRREGULAR = {
    "took": "take", "taken": "take", "made": "make", "paid": "pay", "got": "get", "gave": "give", "given": "give",
    "went": "go", "gone": "go", "kept": "keep", "left": "leave", "met": "meet", "ran": "run", "sent": "send",
    "spent": "spend", "held": "hold", "lost": "lose", "told": "tell", "bought": "buy", "chose": "choose",
    "chosen": "choose", "became": "become", "brought": "bring", "wrote": "write", "written": "write",
}  # fmt: skip
_SUFFIXES = (
    ("ies", "s", "y"), ("es", "s", "e"), ("s", "s", ""), ("ed", "past", ""), ("ed", "past", "e"), ("ing", "ing", ""),
    ("ing", "ing", "e"),
)  # fmt: skip
AUX = word_set("must may can should will shall could might would is are was were has have had")
BE = word_set("is are was were")


def verb_form(word: str) -> tuple[str, str] | None:
    """(base, form) when `word` is a form of a known verb; form is "base", "s", "past" or "ing"."""
    w = word.lower()
    if w in VERBS:
        return w, "base"
    if w in _IRREGULAR:
        return _IRREGULAR[w], "past"
    for suffix, form, restore in _SUFFIXES:
        if w.endswith(suffix):
            stem = w[: -len(suffix)] + restore
            undoubled = stem[:-1] if len(stem) > 3 and stem[-1] == stem[-2] else ""
            for base in (stem, undoubled):
                if base in VERBS:
                    return base, form
    return None


def gerund_phrase(heading: str, ctx: Context) -> str | None:
    """The heading "Reporting a security incident" as a task: "report a security incident" (None if not a gerund)."""
    words = heading.split()
    form = verb_form(words[0]) if len(words) > 1 else None
    if form is None or form[1] != "ing" or words[1].lower() in ("and", "or"):
        return None
    return " ".join([form[0], *render(words[1:])])


def with_context(question: str, ctx: Context, joiner: str = "for", always: bool = False) -> str:
    """Append the section heading ("... for company cards?") when the question alone is too vague."""
    asked = set(tokenize(question))
    heading = set(tokenize(ctx.heading))
    wh_heading = ctx.heading.split()[:1] in (["Who"], ["What"], ["How"], ["When"], ["Where"], ["Why"], ["Which"])
    if ctx.is_intro or wh_heading or not heading or asked & heading or (not always and len(asked - _GENERIC) >= 2):
        return question
    topic = as_phrase(ctx.heading, ctx)
    first = topic.split()[0]
    if not (
        (verb_form(first) or ("", ""))[1] == "ing" or first in DETERMINERS or first == "my" or is_proper(first, ctx)
    ):
        topic = f"the {topic}"
    return f"{question[:-1]} {joiner} {topic}?"


_GENERIC = frozenset(tokenize("what which how many much name called tool used per day week month year time make rules"))


DETERMINERS = word_set("a an the every each all any your our their my this that")


def join_items(items: list[str]) -> str:
    """Items as prose: "a, b and c"."""
    return ", ".join(items[:-1]) + (" and " if len(items) > 1 else "") + items[-1] if items else ""


def pluralize(word: str) -> str:
    return word[:-1] + "ies" if word.endswith("y") and word[-2:-1] not in "aeiou" else word + "s"
