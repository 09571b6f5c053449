"""``orgtune demo``: the whole product on this machine, no Slack credentials needed.

Starts a private Redis (unless REDIS_URL is set), the Slack emulator, the bot
over HTTP and an RQ worker process, then plays a short conversation with the
sample handbook and prints the channel as a person would read it.
"""

from __future__ import annotations

import dataclasses
import os
import secrets
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

from bot.answer_messages import HELPFUL
from bot.messages import plain
from bot.run_messages import CANCEL_ACTION
from orgtune import defaults
from orgtune.config import Config
from orgtune.processes import stop_worker
from orgtune.redis_server import RedisServer
from slackemu import SlackDriver, SlackEmulator
from slackemu.driver import Shared

SAMPLES = Path(__file__).resolve().parent.parent / "samples"
FLAKY_RATE = 0.05  # --flaky-slack: the share of Web API calls answered 5xx or reset (never twice in a row)
CHANNEL, CHANNEL_NAME = "C0HANDBOOK", "handbook"
ALICE, BOB = "U0ALICE", "U0BOB"


@contextmanager
def local_stack(
    config: Config,
    queues: tuple[str, ...] = ("ingest", "train", "answer"),
    *,
    socket_mode: bool = False,
    flaky_slack: bool = False,
) -> Iterator[tuple[Config, SlackDriver]]:
    """Redis + emulator + the bot (over signed HTTP, or Socket Mode) + a worker process, torn down on exit."""
    from bot.app import create_app
    from bot.server import HttpServer, SocketModeBot
    from slackemu.manifest import Manifest
    from storage.db import Database

    with ExitStack() as stack:
        data_dir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="orgtune-demo-")))
        redis_url = config.redis_url or stack.enter_context(RedisServer()).url
        # A Socket Mode app is configured as one (socket_mode_enabled) and has an app-level token.
        manifest = dataclasses.replace(Manifest.load(), socket_mode=True) if socket_mode else None
        bot_token, app_token = "xoxb-demo-" + secrets.token_hex(8), "xapp-demo-" + secrets.token_hex(8)
        emulator = stack.enter_context(SlackEmulator(bot_token=bot_token, app_token=app_token, manifest=manifest))
        if flaky_slack:  # on top of Slack's rate limits: 5xx answers and reset connections, now and then
            emulator.faults.chaos(rate=FLAKY_RATE, seed=0)
        cfg = config.with_(
            slack_bot_token=emulator.bot_token,
            # Slack signs nothing sent over Socket Mode: that bot has no signing secret at all.
            slack_signing_secret=None if socket_mode else secrets.token_hex(16),
            slack_app_token=emulator.app_token if socket_mode else None,
            slack_api_url=emulator.api_url,
            extra_file_hosts=emulator.file_hosts,  # its presigned file host: redirects go there, the token doesn't
            redis_url=redis_url,
            data_dir=data_dir,
            database_url_override=None,
        )
        Database(cfg.database_url).upgrade()
        if socket_mode:
            bot = SocketModeBot(create_app(cfg), emulator.app_token).connect()
            stack.callback(bot.close)  # runs before the emulator stops, so the bot doesn't try to reconnect
            driver = SlackDriver.socket_mode(emulator)
        else:
            server = HttpServer(create_app(cfg)).start()
            stack.callback(server.stop)
            driver = SlackDriver(emulator, server.url, cfg.slack_signing_secret or "")
        stack.enter_context(_worker_process(cfg, queues, data_dir / "worker.log"))
        yield cfg, driver


@contextmanager
def _worker_process(cfg: Config, queues: tuple[str, ...], log_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    env = {**os.environ, **cfg.to_env(), "PYTHONUNBUFFERED": "1"}
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "orgtune", "worker", *queues], env=env, stdout=log, stderr=subprocess.STDOUT
        )
        try:
            yield proc
        finally:
            stop_worker(proc)


def run_demo(
    config: Config,
    out: Callable[[str], None] = print,
    model: str = "smollm2",
    socket_mode: bool = False,
    html_path: Path | None = None,
    flaky_slack: bool = False,
) -> int:
    # a demo should finish in minutes on a laptop: fewer facts per document than a real run asks about
    config = dataclasses.replace(
        config, facts_per_document=config.facts_per_document or defaults.DEMO_FACTS_PER_DOCUMENT
    )
    bot = "the bot over Socket Mode" if socket_mode else "the bot"
    flaky = ", a flaky one" if flaky_slack else ""
    out(f"orgtune demo: starting Redis, the Slack emulator{flaky}, {bot} and a worker (no real Slack involved)…")
    with local_stack(config, socket_mode=socket_mode, flaky_slack=flaky_slack) as (_cfg, driver):
        ws = driver.ws
        ws.add_channel(CHANNEL, CHANNEL_NAME)
        ws.add_user(ALICE, "alice")
        ws.add_user(BOB, "bob")
        waiting = play_sharing(driver, out)
        out("…waiting for the worker to read the files")
        # the bot's own replies: a thread also holds the people's messages (bob shares remote-work.pdf in one)
        ws.wait_for(lambda: all(_bot_replies(ws, ts) >= n for ts, n in Counter(waiting).items()), timeout=180)
        driver.slash("/orgtune", "docs", CHANNEL, ALICE)
        ws.wait_for(lambda: any(m.via == "response_url" for m in ws.messages), timeout=30)
        play_training(driver, out, model)
        play_questions(driver, out)
        play_feedback(driver, out)
        play_cancel(driver, out, model)
        out("")
        out(ws.render(CHANNEL))
        slowest = max(a.seconds for a in driver.acks)
        out("")
        out(f"Every Slack request was acknowledged (slowest ack {slowest * 1000:.0f} ms, limit 3000 ms).")
        emulator = driver.emulator
        out(
            f"Slack answered {len(emulator.limits.limited)} calls with 429 (rate limited) and failed "
            f"{len(emulator.faults.injected)} on purpose; orgtune retried them."
        )
        write_channel_page(ws, out, html_path)
    return 0


def write_channel_page(ws: Any, out: Callable[[str], None], path: Path | None = None) -> Path:
    """The channel as a web page (threads, blocks, the loss curve); by default in the temp dir, not the repo."""
    from slackemu.html import render_html

    path = path or Path(tempfile.gettempdir()) / f"orgtune-demo-{time.strftime('%Y%m%d-%H%M%S')}.html"
    path.write_text(render_html(ws, CHANNEL), encoding="utf-8")
    out(f"The channel as Slack shows it: {path}")
    return path


def _bot_replies(ws: Any, ts: str) -> int:
    return sum(m.user == ws.bot_user_id for m in ws.replies(CHANNEL, ts))


def play_training(driver: SlackDriver, out: Callable[[str], None], model: str = "smollm2") -> None:
    """alice types /train; the progress message is followed live until the results arrive."""
    ws = driver.ws
    out(f"  alice types /train {model}")
    driver.slash("/train", model, CHANNEL, ALICE)
    message = ws.wait_for(lambda: next((m for m in ws.bot_messages(CHANNEL) if "*Training `" in m.text), None), 60)
    shown = ""
    final = (":white_check_mark:", ":x: failed", ":no_entry_sign:")
    deadline = time.monotonic() + 30 * 60
    while time.monotonic() < deadline:
        lines = message.text.splitlines()
        status = lines[0].split(" — ", 1)[-1]
        detail = lines[1] if status.startswith(":weight_lifter:") and len(lines) > 1 else ""
        line = f"    progress: {plain(status)} {detail}".rstrip()
        if line != shown:
            out(line)
            shown = line
        if any(mark in message.text for mark in final):
            break
        time.sleep(0.5)
    if ":white_check_mark:" in message.text:
        ws.wait_for(lambda: any(m.files for m in ws.replies(CHANNEL, message.ts)), timeout=60)


QUESTIONS = (
    (ALICE, "mention", "How many days of paid vacation do we get per year?"),
    (BOB, "slash", "What is the dinner limit when I travel for work?"),
    (BOB, "mention", "Who won the office chess tournament?"),
)


def play_questions(driver: SlackDriver, out: Callable[[str], None]) -> None:
    """People ask the trained assistant; answers arrive in threads (or the channel for /ask)."""
    ws = driver.ws
    before = len(ws.bot_messages(CHANNEL))
    for user, how, question in QUESTIONS:
        out(f"  {ws.users[user]} asks: {question}")
        if how == "mention":
            driver.mention(CHANNEL, user, question)
        else:
            driver.slash("/ask", question, CHANNEL, user)
    out("…waiting for the answers")
    ws.wait_for(lambda: len(ws.bot_messages(CHANNEL)) >= before + len(QUESTIONS), timeout=600)
    # The job posts the answer, then takes the :hourglass: back; show the channel after both.
    ws.wait_for(lambda: not any(m.reactions.get("hourglass_flowing_sand") for m in ws.messages), timeout=30)


def play_feedback(driver: SlackDriver, out: Callable[[str], None]) -> None:
    """alice rates the answer to her question with its Helpful button."""
    ws = driver.ws
    answer = next(m for m in ws.bot_messages(CHANNEL) if _button(m, HELPFUL) and m.thread_ts)
    out("  alice clicks :+1: Helpful under the answer to her question")
    driver.click(answer, HELPFUL, ALICE, _button(answer, HELPFUL))
    ws.wait_for(lambda: any(m.ephemeral_to == ALICE and "Thanks" in m.text for m in ws.messages), timeout=30)


def play_cancel(driver: SlackDriver, out: Callable[[str], None], model: str) -> None:
    """bob starts another run, then thinks better of it and clicks Cancel."""
    ws = driver.ws
    before = {m.ts for m in ws.bot_messages(CHANNEL)}
    out(f"  bob types /train {model}, then clicks Cancel")
    driver.slash("/train", model, CHANNEL, BOB)
    message = ws.wait_for(
        lambda: next((m for m in ws.bot_messages(CHANNEL) if m.ts not in before and _button(m, CANCEL_ACTION)), None),
        timeout=60,
    )
    driver.click(message, CANCEL_ACTION, BOB, _button(message, CANCEL_ACTION))
    ws.wait_for(lambda: ":no_entry_sign: cancelled" in message.text, timeout=600)
    out("    progress: cancelled")


def _button(message: Any, action_id: str) -> str:
    """The value of ``action_id``'s button in a message ("" when it has none)."""
    for block in message.blocks or []:
        for element in block.get("elements", []):
            if element.get("action_id") == action_id:
                return str(element.get("value", ""))
    return ""


def play_sharing(driver: SlackDriver, out: Callable[[str], None]) -> list[str]:
    """People share the handbook, one bad file and one copy; returns the threads awaiting replies."""
    handbook = SAMPLES / "handbook"
    threads: list[str] = []

    def share(user: str, name: str, data: bytes, text: str = "", thread: str | None = None) -> Shared:
        out(f"  {driver.ws.users[user]} shares {name}" + (" in a thread" if thread else ""))
        shared = driver.share_file(CHANNEL, user, name, data, text=text, thread_ts=thread)
        threads.append(thread or shared.message.ts)
        return shared

    first = share(ALICE, "benefits.md", (handbook / "benefits.md").read_bytes(), "Our benefits, for the bot")
    for name in ("expenses.md", "security.md", "onboarding.md", "travel-policy.docx"):
        share(ALICE, name, (handbook / name).read_bytes())
    question = driver.say(CHANNEL, BOB, "Where is the remote work policy?")
    share(BOB, "remote-work.pdf", (handbook / "remote-work.pdf").read_bytes(), "Here it is", thread=question.ts)
    share(BOB, "photo.txt", (SAMPLES / "bad" / "photo.txt").read_bytes(), "my notes")
    share(BOB, "empty.txt", b"")
    share(ALICE, "benefits (1).md", (handbook / "benefits.md").read_bytes(), "oops, again")
    out("  Slack re-delivers the first upload's event (a retry must not store it twice)")
    driver.retry(first)
    return threads
