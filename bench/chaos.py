"""Chaos soak: the whole product on real processes while faults are injected, then an audit.

Starts a private Redis, the Slack emulator (rate limits on, plus 5xx answers and reset
connections at random), the bot over signed HTTP and a supervised worker (ingest and
train in one child, answering in another). Then people share documents (some bad),
train twice and ask questions while, at random times from a fixed seed, the chaos
monkey kills a worker child with SIGKILL, restarts Redis without persistence and
holds the database's write lock. When everything has settled it audits the channel
and the database:

- every document is ready or refused with a reason, with exactly one reply;
- every question is answered or its asker told, with exactly one reply;
- every run is done, failed or cancelled, its message in a final state;
- no message is posted twice.

Prints a table of faults injected and survived, and JSON (the last line). Exit 0
only when nothing was lost, stuck or duplicated.

    .venv/bin/python bench/chaos.py [--documents 30] [--questions 60] [--trainings 2] [--seed 7]
"""

from __future__ import annotations

import argparse
import json
import random
import sqlite3
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from orgtune.config import Config  # noqa: E402
from orgtune.demo import local_stack  # noqa: E402
from orgtune.redis_server import RedisServer  # noqa: E402
from slackemu import SlackDriver  # noqa: E402
from storage.db import Database  # noqa: E402
from storage.models import Document, DocumentStatus, Question, QuestionStatus, RunStatus, TrainingRun  # noqa: E402

CHANNEL = "C0CHAOS"
PEOPLE = {"U0ALICE": "alice", "U0BOB": "bob", "U0CAROL": "carol"}
SETTLE_TIMEOUT_S = 900  # the reconciler's bounds (defaults.RECOVERY_*) are far inside this


def document(i: int, rng: random.Random) -> tuple[str, bytes]:
    """A small policy document with facts a question can ask about; every tenth one is unreadable."""
    if i % 10 == 9:
        return f"scan-{i}.txt", bytes(rng.randrange(256) for _ in range(2048))  # binary: refused with a reason
    days = 10 + i
    text = (
        f"# Policy {i}\n\n## Rule\n\nTeam {i} members get {days} days of focus time per year, "
        f"approved by the lead of team {i}.\n\n## Contact\n\nAsk the office of team {i} at desk {100 + i}.\n"
    )
    return f"policy-{i}.md", text.encode()


class Monkey:
    """Injects faults at random (seeded) while the workload runs; counts what it did."""

    def __init__(self, rng: random.Random, redis: RedisServer, db_path: Path | None, stop: threading.Event) -> None:
        self.rng, self.redis, self.db_path, self.stop = rng, redis, db_path, stop
        self.injected: Counter[str] = Counter()
        self.thread = threading.Thread(target=self._run, name="chaos-monkey", daemon=True)

    def _run(self) -> None:
        faults: list[tuple[str, Callable[[], bool]]] = [
            ("kill -9 a worker", self.kill_worker),
            ("Redis restart", self.restart_redis),
            ("database locked 3 s", self.lock_database),
        ]
        while not self.stop.wait(self.rng.uniform(8, 20)):
            name, fault = self.rng.choice(faults)
            if fault():
                self.injected[name] += 1

    def kill_worker(self) -> bool:
        """SIGKILL one of the supervisor's children (the ingest/train worker or the answer worker)."""
        me = psutil.Process()
        supervisors = [p for p in me.children() if "worker" in p.cmdline()]
        children = [c for s in supervisors for c in s.children()]
        if not children:
            return False
        self.rng.choice(children).kill()
        return True

    def restart_redis(self) -> bool:
        self.redis.stop()
        self.redis = RedisServer(port=self.redis.port).start()
        return True

    def lock_database(self) -> bool:
        if self.db_path is None:
            return False
        conn = sqlite3.connect(self.db_path, timeout=10)
        try:
            conn.execute("BEGIN IMMEDIATE")  # holds the write lock, as a long transaction would
            time.sleep(3)
            conn.rollback()
        finally:
            conn.close()
        return True


def workload(driver: SlackDriver, rng: random.Random, n_docs: int, n_questions: int, n_trainings: int) -> None:
    people = list(PEOPLE)
    shared = []
    for i in range(n_docs):
        name, data = document(i, rng)
        shared.append(driver.share_file(CHANNEL, rng.choice(people), name, data).message.ts)
        time.sleep(rng.uniform(0.1, 0.6))
    ws = driver.ws
    _wait(lambda: all(any(m.user == ws.bot_user_id for m in ws.replies(CHANNEL, ts)) for ts in shared), 600)
    asked = 0
    for t in range(n_trainings):
        train(driver, people[t % len(people)])
        for _ in range(n_questions // max(1, n_trainings)):
            i = rng.randrange(n_docs)
            question = rng.choice(
                [f"How many days of focus time does team {i} get?", f"Where is the office of team {i}?"]
            )
            if rng.random() < 0.3:
                driver.slash("/ask", question, CHANNEL, rng.choice(people))
            else:
                driver.mention(CHANNEL, rng.choice(people), question)
            asked += 1
            time.sleep(rng.uniform(0.5, 2.0))
        _wait(lambda: _runs_final(driver), 600)


def train(driver: SlackDriver, user: str, attempts: int = 3) -> bool:
    """/train as a person would: if orgtune says it went wrong (Redis was restarting), try again."""
    ws = driver.ws
    for _ in range(attempts):
        before = len(ws.messages)
        driver.slash("/train", "tiny", CHANNEL, user)

        def outcome(before: int = before) -> str | None:
            for m in ws.messages[before:]:
                if m.user == ws.bot_user_id and m.text.startswith("*Training"):
                    return "started"
                if m.ephemeral_to == user and ("went wrong" in m.text or "already in progress" in m.text):
                    return "refused"
            return None

        if _wait(outcome, 120) and outcome() == "started":
            return True
        time.sleep(5)
    return False


def _runs_final(driver: SlackDriver) -> bool:
    return all(
        ":white_check_mark:" in m.text or ":x:" in m.text or ":no_entry_sign:" in m.text
        for m in driver.ws.bot_messages(CHANNEL)
        if m.text.startswith("*Training")
    )


def _wait(predicate: Callable[[], Any], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(1)
    return False


def audit(db: Database, driver: SlackDriver) -> dict[str, Any]:
    ws = driver.ws
    with db.session() as session:
        docs = session.query(Document).filter(Document.channel_id == CHANNEL).all()
        questions = session.query(Question).filter(Question.channel_id == CHANNEL).all()
        runs = session.query(TrainingRun).filter(TrainingRun.channel_id == CHANNEL).all()
    by_thread = Counter(m.thread_ts for m in ws.bot_messages(CHANNEL) if m.thread_ts and not m.ephemeral_to)
    lost_docs = [d.name for d in docs if d.status not in DocumentStatus.FINAL or by_thread[d.thread_ts] == 0]
    mentions = [q for q in questions if q.source == "mention"]
    lost_questions = [q.question for q in questions if q.status not in (QuestionStatus.ANSWERED, QuestionStatus.FAILED)]
    lost_questions += [q.question for q in mentions if by_thread[q.thread_ts] == 0]
    # /ask answers go to the channel, quoting the question: no more of them than it was asked
    quoted = Counter(
        m.text.split(" asked:\n>", 1)[1].split("\n", 1)[0] for m in ws.bot_messages(CHANNEL) if " asked:\n>" in m.text
    )
    asked = Counter(q.question for q in questions if q.source == "slash")
    slash_posts = {text: n - asked[text] + 1 for text, n in quoted.items()}
    stuck_runs = [r.id for r in runs if r.status not in RunStatus.FINAL]
    doubled = [ts for ts, n in by_thread.items() if n > 1 and not _is_run_thread(ws, ts)]
    duplicates = sum(by_thread[ts] - 1 for ts in doubled) + sum(n - 1 for n in slash_posts.values() if n > 1)
    doubled_texts = [[m.text[:120] for m in ws.replies(CHANNEL, ts) if m.user == ws.bot_user_id] for ts in doubled]
    refused = sum(d.status == DocumentStatus.REJECTED for d in docs)
    return {
        "documents": len(docs),
        "documents_refused_with_reason": refused,
        "questions": len(questions),
        "questions_answered": sum(q.status == QuestionStatus.ANSWERED for q in questions),
        "questions_told_failed": sum(q.status == QuestionStatus.FAILED for q in questions),
        "runs": {s: sum(r.status == s for r in runs) for s in sorted({r.status for r in runs})},
        "lost_documents": len(lost_docs),
        "lost_questions": len(lost_questions),
        "stuck_runs": len(stuck_runs),
        "duplicate_posts": duplicates,
        "details": {
            "lost_documents": lost_docs,
            "lost_questions": lost_questions,
            "stuck_runs": stuck_runs,
            "duplicated": doubled_texts + [q for q, n in slash_posts.items() if n > 1],
        },
    }


def _is_run_thread(ws: Any, ts: str) -> bool:
    """A training message's thread holds its results and its chart: two posts by design."""
    parent = next((m for m in ws.messages if m.ts == ts), None)
    return parent is not None and parent.text.startswith("*Training")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--documents", type=int, default=30)
    parser.add_argument("--questions", type=int, default=60)
    parser.add_argument("--trainings", type=int, default=2)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--slack-fault-rate", type=float, default=0.05)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="orgtune-chaos-") as tmp:
        redis = RedisServer().start()
        config = Config(redis_url=redis.url, answer_model="tiny", models_dir_override=Path(tmp) / "models")
        try:
            with local_stack(config) as (cfg, driver):
                driver.emulator.faults.chaos(rate=args.slack_fault_rate, seed=args.seed)
                ws = driver.ws
                ws.add_channel(CHANNEL, "chaos")
                for uid, name in PEOPLE.items():
                    ws.add_user(uid, name)
                db = Database(cfg.database_url)
                db_path = Path(cfg.database_url.split("///", 1)[1]) if cfg.database_url.startswith("sqlite") else None
                stop = threading.Event()
                monkey = Monkey(rng, redis, db_path, stop)
                monkey.thread.start()
                try:
                    workload(driver, rng, args.documents, args.questions, args.trainings)
                finally:
                    stop.set()
                    monkey.thread.join()
                    redis = monkey.redis
                settled = _wait(lambda: _quiet(db), SETTLE_TIMEOUT_S)
                result = audit(db, driver)
                result["settled"] = settled
                result["faults_injected"] = dict(monkey.injected) | {
                    "Slack 5xx/reset": len(driver.emulator.faults.injected),
                    "Slack 429": len(driver.emulator.limits.limited),
                }
        finally:
            redis.stop()
    result["seconds"] = round(time.monotonic() - started, 1)
    result["seed"] = args.seed
    survived = result["lost_documents"] == result["lost_questions"] == result["stuck_runs"] == 0
    survived = survived and result["duplicate_posts"] == 0
    print(f"{'fault':<24} {'injected':>8} {'survived':>8}")
    for name, count in result["faults_injected"].items():
        print(f"{name:<24} {count:>8} {count if survived else '?':>8}")
    print(
        f"lost documents {result['lost_documents']}, lost questions {result['lost_questions']}, "
        f"stuck runs {result['stuck_runs']}, duplicate posts {result['duplicate_posts']}"
    )
    print(json.dumps(result))
    return 0 if survived else 1


def _quiet(db: Database) -> bool:
    """Nothing pending: every document, question and run in a final state."""
    with db.session() as session:
        pending_docs = session.query(Document).filter(Document.status.notin_(DocumentStatus.FINAL)).count()
        pending_q = session.query(Question).filter(Question.status.in_(QuestionStatus.PENDING)).count()
        active = session.query(TrainingRun).filter(TrainingRun.status.in_(RunStatus.ACTIVE)).count()
    return pending_docs == pending_q == active == 0


if __name__ == "__main__":
    sys.exit(main())
