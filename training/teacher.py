"""A teacher model writes training questions from a section; every one is checked mechanically before use.

The teacher is an OpenAI-compatible server (:class:`HttpTeacher`, ORGTUNE_TEACHER_URL) or the run's own
base model (:class:`ModelTeacher`); :func:`check_item` keeps an item only when its quote is in the section
verbatim, its expected phrase is in the quote and the answer but not the question, and it is new.
"""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from collections import Counter
from typing import Any, Protocol
from urllib.parse import urlsplit, urlunsplit

from orgtune import defaults
from orgtune.config import Config
from training.questions.context import Draft
from training.scoring import contains, normalize

KIND = "teacher"
FIELDS = ("question", "quote", "answer", "expected")
_MAX_ERROR_CHARS = 300
_OPENING = re.compile(r"[\[{]")
_MAX_WORDS = {
    "question": defaults.TEACHER_MAX_QUESTION_WORDS,
    "quote": defaults.TEACHER_MAX_QUOTE_WORDS,
    "answer": defaults.TEACHER_MAX_ANSWER_WORDS,
    "expected": defaults.TEACHER_MAX_EXPECTED_WORDS,
}
_QUOTES = str.maketrans({"‘": "'", "’": "'", "‚": "'", "‛": "'", "“": '"', "”": '"', "„": '"', "‟": '"'})


class TeacherError(RuntimeError):
    """The teacher couldn't be reached or refused; the message names the URL (no credentials), never the key."""


class Teacher(Protocol):
    name: str

    def complete(self, messages: list[dict[str, str]]) -> str: ...


def teacher_prompt(document: str, heading: str, text: str, n: int) -> list[dict[str, str]]:
    """The chat asking for ``n`` facts of one section, each as a question and two Slack-style paraphrases."""
    system = (
        "You write training questions for an assistant that answers colleagues' questions from their "
        "organisation's documents. You output only JSON lines, one object per line, nothing else."
    )
    quote = "New starters get 25 days of annual leave."
    fact = {"quote": quote, "answer": "New starters get 25 days of annual leave a year.", "expected": "25 days"}
    questions = (
        "How many days of annual leave do new starters get?",
        "hey how much holiday do i get when i join?",
        "whats the leave allowence for new ppl",
    )
    lines = "\n".join(json.dumps({"question": q, **fact}) for q in questions)
    user = (
        f"Document: {document}\nSection: {heading}\n\n<section>\n{text[: defaults.TEACHER_MAX_SECTION_CHARS]}\n"
        f"</section>\n\nWrite {n} questions about different facts stated in this section. For each fact write "
        'one JSON object per line with the keys "question", "quote", "answer" and "expected":\n'
        "- quote: one sentence or table row copied verbatim, character for character, from the section;\n"
        "- answer: one short sentence answering the question;\n"
        "- expected: the shortest key phrase of the answer (a number, name, date or amount), copied "
        "exactly from the quote;\n"
        "- question: a question the quote answers. Never put the answer (the expected phrase) in the "
        "question.\n"
        "Then, for the same fact, write 2 more lines with the same quote, answer and expected, whose "
        "question is a paraphrase written the way colleagues ask in Slack: casual, indirect, with a typo.\n"
        f"So {3 * n} lines in all. For example, from a section saying {json.dumps(quote)}:\n"
        f"{lines}\n\nNow the {3 * n} lines for the section above, with no other text:"
    )
    return [{"role": "system", "content": system}, {"role": "user", "content": user}]


def parse_items(text: str) -> list[dict[str, str]]:
    """Every JSON object in ``text``: JSON lines, a JSON array, inside code fences; junk is skipped.

    Numbers become strings; an item with a "paraphrases" list also yields one item per paraphrase.
    """
    text = re.sub(r"^\s*```[\w-]*\s*$", "", text, flags=re.MULTILINE)
    decoder = json.JSONDecoder()
    found: list[Any] = []
    i = 0
    while (match := _OPENING.search(text, i)) is not None:
        try:
            value, i = decoder.raw_decode(text, match.start())
        except ValueError:
            i = match.start() + 1
            continue
        found.extend(value if isinstance(value, list) else [value])
    items: list[dict[str, str]] = []
    for value in (v for v in found if isinstance(v, dict)):
        item = {str(k).strip().lower(): str(v) for k, v in value.items() if isinstance(v, (str, int, float))}
        item = {k: v for k, v in item.items() if v not in ("True", "False")}  # booleans are no answer
        paraphrases = value.get("paraphrases")
        extra = [p for p in paraphrases if isinstance(p, str)] if isinstance(paraphrases, list) else []
        items.append(item)
        items += [{**item, "question": str(p)} for p in extra]
    return items


def check_item(item: dict[str, str], section_text: str, accepted: list[str]) -> tuple[Draft | None, str]:
    """``(draft, "")`` when the item passes every check, else ``(None, reason)``.

    The draft's quote is the exact substring of ``section_text`` the item's quote matches after
    whitespace and curly quotes are normalised, so ``quote in section_text`` always holds.
    """
    values = {f: " ".join(str(item.get(f) or "").split()) for f in FIELDS}
    if not all(values.values()):
        return None, "missing field"
    if too_long := next((f for f in FIELDS if len(values[f].split()) > _MAX_WORDS[f]), None):
        return None, f"{too_long} too long"
    question = re.sub(r"[\s.!]+$", "", values["question"])
    question = question if question.endswith("?") else question + "?"
    answer, expected = values["answer"], values["expected"]
    quote = find_verbatim(values["quote"], section_text)
    if quote is None:
        return None, "quote not in document"
    if not contains(quote, expected):
        return None, "expected not in quote"
    if not contains(answer, expected):
        return None, "expected not in answer"
    if contains(question, expected):
        return None, "answer given away"
    words = set(normalize(question).split())
    if any(jaccard(words, set(normalize(a).split())) >= defaults.NEAR_DUPLICATE_JACCARD for a in accepted):
        return None, "near duplicate"
    return (KIND, question, answer, quote, expected), ""


def jaccard(a: set[str], b: set[str]) -> float:
    return len(a & b) / len(a | b) if a or b else 1.0


def find_verbatim(quote: str, text: str) -> str | None:
    """The exact substring of ``text`` that ``quote`` matches with whitespace runs and curly quotes
    normalised (case and everything else must agree), not starting or ending inside a word; or None."""
    words = quote.translate(_QUOTES).split()
    if not words:
        return None
    pattern = r"\s+".join(re.escape(w) for w in words).replace("'", "['‘’‚‛]").replace('"', '["“”„‟]')
    head = r"(?<!\w)" if words[0][0].isalnum() else ""
    tail = r"(?!\w)" if words[-1][-1].isalnum() else ""
    match = re.search(head + pattern + tail, text)
    return match.group() if match else None


def teacher_drafts(
    teacher: Teacher,
    document: str,
    heading: str,
    text: str,
    n: int = defaults.TEACHER_QUESTIONS_PER_SECTION,
    accepted: list[str] | None = None,
) -> tuple[list[Draft], dict[str, int]]:
    """One teacher call for one section: (checked drafts, rejection reason -> count).

    ``accepted`` (questions kept so far, e.g. from earlier sections) is extended with each kept question,
    so one list passed along a run catches duplicates across sections. TeacherError propagates.
    """
    accepted = [] if accepted is None else accepted
    items = parse_items(teacher.complete(teacher_prompt(document, heading, text, n)))
    rejected = Counter({"no JSON items in the reply": 1} if not items else {})
    drafts: list[Draft] = []
    for item in items:
        draft, reason = check_item(item, text, accepted)
        if draft is None:
            rejected[reason] += 1
            continue
        drafts.append(draft)
        accepted.append(draft[1])
    return drafts, dict(rejected)


class ModelTeacher:
    """The run's own base model as teacher (mistral or qwen on a GPU): greedy, in its chat template."""

    def __init__(self, model: Any, tokenizer: Any, max_new_tokens: int = defaults.TEACHER_MAX_NEW_TOKENS) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.max_new_tokens = max_new_tokens
        self.name = str(getattr(getattr(model, "config", None), "_name_or_path", "") or "base model")

    def complete(self, messages: list[dict[str, str]]) -> str:
        from training.generate import generate  # torch: only in the process that holds the model

        return generate(self.model, self.tokenizer, messages, self.max_new_tokens)[0]


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A redirect would resend the bearer token to wherever it points: refuse (the 3xx becomes an error)."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


class HttpTeacher:
    """Any OpenAI-compatible server, greedy. ``url`` is the API base (…/v1): a URL with no path gets /v1,
    one ending in /chat/completions is cut back to its base."""

    def __init__(
        self,
        url: str,
        model: str | None = None,
        api_key: str | None = None,
        timeout: float = defaults.TEACHER_TIMEOUT_S,
    ) -> None:
        parts = urlsplit(url.strip())
        if parts.username is not None:
            raise TeacherError("the teacher URL must not hold credentials: the key goes in ORGTUNE_TEACHER_API_KEY")
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise TeacherError(f"the teacher URL must be http(s) such as http://gpu-1:8000/v1, not {url!r}")
        path = parts.path.rstrip("/").removesuffix("/chat/completions") or "/v1"
        self.url = urlunsplit(parts._replace(path=path, query="", fragment=""))
        self.model = model
        self.timeout = timeout
        self._api_key = api_key
        self._opener = urllib.request.build_opener(_NoRedirects)
        self.name = f"{model or 'default model'} at {self.url}"

    @classmethod
    def from_config(cls, config: Config) -> HttpTeacher | None:
        """The teacher at ``config.teacher_url``, or None when it isn't set."""
        if not config.teacher_url:
            return None
        return cls(config.teacher_url, config.teacher_model, config.teacher_api_key)

    def __repr__(self) -> str:  # never the key
        return f"HttpTeacher({self.url!r}, model={self.model!r})"

    def complete(self, messages: list[dict[str, str]]) -> str:
        """The server's greedy reply to ``messages``; TeacherError when it can't be had."""
        if self.model is None:
            self.model = self.served_models()[0]
            self.name = f"{self.model} at {self.url}"
        payload = {"model": self.model, "messages": messages, "temperature": 0}
        data = self._request("/chat/completions", {**payload, "max_tokens": defaults.TEACHER_MAX_NEW_TOKENS})
        try:
            return str(data["choices"][0]["message"]["content"] or "").strip()
        except (KeyError, IndexError, TypeError):
            raise TeacherError(f"teacher server {self.url}/chat/completions answered without a message") from None

    def served_models(self) -> list[str]:
        """The model ids the server lists at /models (at least one, else TeacherError)."""
        data = self._request("/models")
        cards = data.get("data") if isinstance(data, dict) else None
        ids = [str(c["id"]) for c in cards or [] if isinstance(c, dict) and c.get("id")]
        if not ids:
            raise TeacherError(f"teacher server {self.url}/models lists no model; set ORGTUNE_TEACHER_MODEL")
        return ids

    def _request(self, path: str, payload: dict[str, Any] | None = None) -> Any:
        """GET (no payload) or POST one request; the decoded JSON reply, or TeacherError."""
        headers = {"Accept": "application/json", "Content-Type": "application/json"}
        if self._api_key:
            headers["Authorization"] = f"Bearer {self._api_key}"
        body, where = (json.dumps(payload).encode() if payload is not None else None), self.url + path
        request = urllib.request.Request(where, data=body, headers=headers)
        try:
            with self._opener.open(request, timeout=self.timeout) as reply:
                status, raw = reply.status, reply.read()
        except urllib.error.HTTPError as e:
            said = self._redact(_error_message(e))[:_MAX_ERROR_CHARS]
            hint = " (check ORGTUNE_TEACHER_API_KEY against the server's key)" if e.code in (401, 403) else ""
            raise TeacherError(f"teacher server {where} answered {e.code}: {said}{hint}") from None
        except (urllib.error.URLError, OSError) as e:
            reason = getattr(e, "reason", e)
            if isinstance(e, TimeoutError) or isinstance(reason, TimeoutError):
                raise TeacherError(f"teacher server {where} did not answer within {self.timeout:.0f} s") from None
            raise TeacherError(f"could not reach the teacher server at {where}: {self._redact(str(reason))}") from None
        try:
            return json.loads(raw)
        except ValueError:
            raise TeacherError(f"teacher server {where} answered {status} with something other than JSON") from None

    def _redact(self, text: str) -> str:
        # A proxy or a misconfigured server could echo the Authorization header.
        return text.replace(self._api_key, "[redacted]") if self._api_key else text


def _error_message(error: urllib.error.HTTPError) -> str:
    """The server's own words: ``{"error": {"message"}}``, ``{"message"}``, ``{"detail"}``, or the text."""
    try:
        with error:
            body = error.read()
    except Exception:  # no body to read (fp is None) or the connection dropped: the status says enough
        return error.reason if isinstance(error.reason, str) else ""
    try:
        data = json.loads(body)
    except ValueError:
        data = None
    if isinstance(data, dict):
        inner = data.get("error")
        said = [inner.get("message") if isinstance(inner, dict) else inner, data.get("message"), data.get("detail")]
        return next((v for v in said if isinstance(v, str) and v), json.dumps(data))
    return body.decode("utf-8", "replace").strip()
