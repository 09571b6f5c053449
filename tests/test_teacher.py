"""The teacher writes questions; every item is checked mechanically before it becomes a draft."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from orgtune.config import Config
from training.teacher import (
    HttpTeacher,
    ModelTeacher,
    Teacher,
    TeacherError,
    check_item,
    find_verbatim,
    parse_items,
    teacher_drafts,
    teacher_prompt,
)

SECTION = (
    "Hotels are booked through   Travelbook.\n"
    "The nightly hotel limit in London is £180, including breakfast.\n"
    "| Region | Per diem |\n| Europe | €60 |\n"
    "Claims must reach Finance within 30 days of the trip's last day."
)
GOOD = {
    "question": "What's the most I can spend per night on a hotel in London?",
    "quote": "The nightly hotel limit in London is £180, including breakfast.",
    "answer": "You can spend up to £180 a night in London.",
    "expected": "£180",
}
KEY = "sk-teacher-secret-0123456789"


def item(**changes: str) -> dict[str, str]:
    return {**GOOD, **changes}


# --- check_item -------------------------------------------------------------------------------------


def test_a_good_item_becomes_a_teacher_draft() -> None:
    draft, reason = check_item(item(question="  what's the London   hotel limit  "), SECTION, [])
    assert reason == "" and draft is not None
    kind, question, answer, quote, expected = draft
    assert kind == "teacher" and question == "what's the London hotel limit?"
    assert quote == GOOD["quote"] and quote in SECTION and (answer, expected) == (GOOD["answer"], "£180")


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"quote": "The nightly hotel limit in London is £200, including breakfast."}, "quote not in document"),
        ({"quote": "Hotel limits are listed on the intranet."}, "quote not in document"),
        ({"quote": "he nightly hotel limit"}, "quote not in document"),  # starts inside a word
        ({"question": "Is the London hotel limit £180 a night?"}, "answer given away"),
        ({"expected": "£250", "answer": "Up to £250."}, "expected not in quote"),
        ({"answer": "It depends on the city."}, "expected not in answer"),
        ({"expected": ""}, "missing field"),
        ({"question": " ".join(["why"] * 31) + "?"}, "question too long"),
    ],
)
def test_each_failure_is_rejected_with_its_reason(changes: dict[str, str], reason: str) -> None:
    assert check_item(item(**changes), SECTION, []) == (None, reason)


def test_near_duplicates_of_accepted_questions_are_rejected() -> None:
    accepted = ["What is the most I can spend per night on a hotel in London?"]
    assert check_item(item(), SECTION, accepted) == (None, "near duplicate")
    reordered = "On a hotel in London, what's the most I can spend per night"
    assert check_item(item(question=reordered), SECTION, [GOOD["question"]]) == (None, "near duplicate")
    different = "how much do hotels in london cost us max"
    assert check_item(item(question=different), SECTION, accepted)[1] == ""


def test_curly_quotes_and_whitespace_map_back_to_the_exact_substring() -> None:
    text = "Policy note.\nThe  “Travel   Desk”\n  books hotels; it’s open 9-5.\nEnd."
    quote = 'The "Travel Desk" books hotels; it\'s open 9-5.'
    exact = find_verbatim(quote, text)
    assert exact == "The  “Travel   Desk”\n  books hotels; it’s open 9-5." and exact in text
    draft, _ = check_item(
        {"question": "When is the desk open", "quote": quote, "answer": "It's open 9-5.", "expected": "9-5"}, text, []
    )
    assert draft is not None and draft[3] == exact and draft[1] == "When is the desk open?"
    table = find_verbatim("| Europe   | €60 |", SECTION)
    assert table == "| Europe | €60 |"


# --- parse_items -----------------------------------------------------------------------------------


def test_parse_items_tolerates_fences_arrays_and_junk() -> None:
    line = json.dumps(GOOD)
    messy = f"Sure! Here are the questions:\n```json\n{line}\n{{broken json\n{line[:-5]}\n```\nHope this helps {{:"
    assert parse_items(messy) == [GOOD]
    array = "```\n" + json.dumps([GOOD, "junk", 3, {**GOOD, "expected": 180}], indent=2) + "\n```"
    assert parse_items(array) == [GOOD, {**GOOD, "expected": "180"}]
    nested = json.dumps({**GOOD, "paraphrases": ["london hotel max??", 7]})
    assert parse_items(nested) == [GOOD, {**GOOD, "question": "london hotel max??"}]
    assert parse_items("no json here [1, 2] at all") == []


def test_the_prompt_asks_for_verbatim_quotes_and_paraphrases() -> None:
    messages = teacher_prompt("Travel Policy", "Hotels", SECTION, 3)
    assert [m["role"] for m in messages] == ["system", "user"]
    user = messages[1]["content"]
    assert SECTION in user and "Travel Policy" in user and "9 lines" in user
    assert "verbatim" in user and "Slack" in user and "Never put the answer" in user


# --- teacher_drafts with a fake teacher ------------------------------------------------------------


class Canned:
    name = "canned"

    def __init__(self, reply: str) -> None:
        self.reply = reply
        self.calls: list[list[dict[str, str]]] = []

    def complete(self, messages: list[dict[str, str]]) -> str:
        self.calls.append(messages)
        return self.reply


REPLY = "\n".join(
    json.dumps(i)
    for i in [
        GOOD,
        item(question="hey whats the hotel cap for london"),
        item(question="london hotel budget per nite?"),
        item(question="What's the most I can spend per night on a hotel in London?"),  # duplicate
        {
            "question": "How long do I have to submit a claim?",
            "quote": "Claims must reach Finance within 30 days of the trip’s last day.",
            "answer": "Within 30 days of the trip's last day.",
            "expected": "30 days",
        },
        item(quote="Hotels cost £180."),
        item(question="Is it £180?"),
    ]
)


def test_teacher_drafts_keeps_checked_items_and_counts_rejections() -> None:
    teacher = Canned(REPLY)
    accepted = ["Who books hotels?"]
    drafts, rejected = teacher_drafts(teacher, "Travel Policy", "Hotels", SECTION, n=2, accepted=accepted)
    assert len(teacher.calls) == 1
    assert [d[1] for d in drafts] == [
        GOOD["question"],
        "hey whats the hotel cap for london?",
        "london hotel budget per nite?",
        "How long do I have to submit a claim?",
    ]
    assert all(d[0] == "teacher" and d[3] in SECTION for d in drafts)
    assert rejected == {"near duplicate": 1, "quote not in document": 1, "answer given away": 1}
    assert accepted[1:] == [d[1] for d in drafts]
    assert teacher_drafts(Canned("I can't help with that."), "D", "H", SECTION) == (
        [],
        {"no JSON items in the reply": 1},
    )


# --- HttpTeacher against a real local server --------------------------------------------------------


class FakeServer(ThreadingHTTPServer):
    """An OpenAI-compatible server: /v1/models and /v1/chat/completions, behind a bearer key."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.api_key = KEY
        self.models = ["teacher-7b", "other"]
        self.content = REPLY
        self.fail_with: int | None = None
        self.requests: list[tuple[str, Any]] = []


class Handler(BaseHTTPRequestHandler):
    server: FakeServer

    def log_message(self, *args: Any) -> None:
        pass

    def _reply(self, status: int, data: Any) -> None:
        body = json.dumps(data).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _authorized(self) -> bool:
        if self.headers.get("Authorization") == f"Bearer {self.server.api_key}":
            return True
        self._reply(401, {"error": {"message": "bad key"}})
        return False

    def do_GET(self) -> None:
        self.server.requests.append((self.path, None))
        if self._authorized() and self.path == "/v1/models":
            self._reply(200, {"object": "list", "data": [{"id": m, "object": "model"} for m in self.server.models]})
        elif self.path != "/v1/models":
            self._reply(404, {"error": {"message": "Not Found"}})

    def do_POST(self) -> None:
        payload = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.server.requests.append((self.path, payload))
        if not self._authorized():
            return
        if self.server.fail_with:  # a server echoing the request's Authorization header in its error
            message = f"internal error handling {self.headers.get('Authorization')}"
            self._reply(self.server.fail_with, {"error": {"message": message}})
            return
        choice = {"index": 0, "message": {"role": "assistant", "content": self.server.content}}
        self._reply(200, {"id": "c1", "object": "chat.completion", "choices": [choice]})


@pytest.fixture
def server() -> Iterator[FakeServer]:
    httpd = FakeServer()
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield httpd
    finally:
        httpd.shutdown()
        httpd.server_close()


def base_url(server: FakeServer) -> str:
    return f"http://127.0.0.1:{server.server_address[1]}/v1"


def test_http_teacher_end_to_end(server: FakeServer) -> None:
    teacher = HttpTeacher(base_url(server), api_key=KEY)
    drafts, rejected = teacher_drafts(teacher, "Travel Policy", "Hotels", SECTION, n=2)
    assert len(drafts) == 4 and sum(rejected.values()) == 3
    (models_path, _), (chat_path, payload) = server.requests
    assert (models_path, chat_path) == ("/v1/models", "/v1/chat/completions")
    assert payload["model"] == "teacher-7b" and payload["temperature"] == 0 and payload["max_tokens"] > 0
    assert payload["messages"] == teacher_prompt("Travel Policy", "Hotels", SECTION, 2)
    assert teacher.name == f"teacher-7b at {base_url(server)}" and KEY not in repr(teacher)
    teacher.complete([{"role": "user", "content": "again"}])
    assert [p for p, _ in server.requests].count("/v1/models") == 1  # the model is looked up once


def test_http_teacher_uses_the_configured_model_and_accepts_a_bare_or_full_url(server: FakeServer) -> None:
    port = server.server_address[1]
    config = Config(teacher_url=f"http://127.0.0.1:{port}", teacher_model="other", teacher_api_key=KEY)
    teacher = HttpTeacher.from_config(config)
    assert teacher is not None and teacher.url == base_url(server)
    assert teacher.complete([{"role": "user", "content": "hi"}]) == REPLY.strip()
    assert [p for p, _ in server.requests] == ["/v1/chat/completions"] and server.requests[0][1]["model"] == "other"
    assert HttpTeacher(base_url(server) + "/chat/completions/").url == base_url(server)
    assert HttpTeacher.from_config(Config()) is None


def test_http_errors_raise_teacher_error_without_the_key(server: FakeServer) -> None:
    server.fail_with = 500
    teacher = HttpTeacher(base_url(server), "teacher-7b", KEY)
    with pytest.raises(TeacherError) as failure:
        teacher_drafts(teacher, "Travel Policy", "Hotels", SECTION)
    message = str(failure.value)
    assert "answered 500" in message and f"127.0.0.1:{server.server_address[1]}/v1/chat/completions" in message
    assert KEY not in message and "[redacted]" in message
    with pytest.raises(TeacherError, match=r"answered 401.*ORGTUNE_TEACHER_API_KEY"):
        HttpTeacher(base_url(server), api_key="wrong").complete([{"role": "user", "content": "hi"}])
    server.models = []
    with pytest.raises(TeacherError, match="lists no model"):
        HttpTeacher(base_url(server), api_key=KEY).complete([{"role": "user", "content": "hi"}])


def test_an_unreachable_teacher_raises_teacher_error() -> None:
    import socket

    with socket.socket() as s:  # a port that nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    teacher = HttpTeacher(f"http://127.0.0.1:{port}/v1", "m", KEY, timeout=5)
    with pytest.raises(TeacherError, match="could not reach the teacher server") as failure:
        teacher.complete([{"role": "user", "content": "hi"}])
    assert KEY not in str(failure.value)
    with pytest.raises(TeacherError, match="http"):
        HttpTeacher("gpu-1:8000/v1")
    with pytest.raises(TeacherError, match="credentials") as failure:
        HttpTeacher(f"http://me:{KEY}@gpu-1:8000/v1")
    assert KEY not in str(failure.value)


# --- ModelTeacher with the tiny random model ---------------------------------------------------------


def test_model_teacher_with_a_random_model_yields_nothing_and_does_not_crash(tmp_path: Path, models_dir: Path) -> None:
    """Runs when an earlier test of the session built the tiny model (loading it is then ~5 s); building
    it here would convert SmolLM2 for its tokenizer first (~25 s)."""
    from training.models import get_model
    from training.weights import load

    if not (models_dir / "tiny" / "config.json").is_file():
        pytest.skip("the tiny model isn't built in this session yet (tests/test_export.py builds it)")
    model, tokenizer = load(get_model("tiny"), Config(data_dir=tmp_path, models_dir_override=models_dir))
    teacher: Teacher = ModelTeacher(model, tokenizer, max_new_tokens=48)
    assert "tiny" in teacher.name
    drafts, rejected = teacher_drafts(teacher, "Travel Policy", "Hotels", SECTION)
    assert drafts == [] and sum(rejected.values()) >= 1


# --- configuration -------------------------------------------------------------------------------------


def test_config_reads_the_teacher_settings_and_hides_the_key() -> None:
    env = {
        "ORGTUNE_TEACHER_URL": "http://gpu-1:8000/v1",
        "ORGTUNE_TEACHER_MODEL": "Qwen/Qwen2.5-7B-Instruct",
        "ORGTUNE_TEACHER_API_KEY": KEY,
    }
    cfg = Config.from_env(env)
    assert (cfg.teacher_url, cfg.teacher_model, cfg.teacher_api_key) == (
        "http://gpu-1:8000/v1",
        env["ORGTUNE_TEACHER_MODEL"],
        KEY,
    )
    assert KEY not in repr(cfg) and "gpu-1" in repr(cfg)
    assert Config.from_env(cfg.to_env()) == cfg  # child processes get the key, as they do the other secrets
    assert Config.from_env({}).teacher_model is None and "ORGTUNE_TEACHER_URL" not in Config().to_env()
    teacher = HttpTeacher.from_config(cfg)
    assert teacher is not None and KEY not in repr(teacher) and KEY not in teacher.name
