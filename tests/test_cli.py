"""The command line: ingest real files into a channel, list and forget them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from orgtune.config import Config
from tests.conftest import ROOT, SAMPLES, TestDatabase

HANDBOOK = SAMPLES / "handbook"


def orgtune(config: Config, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **config.to_env()}
    return subprocess.run(
        [sys.executable, "-m", "orgtune", *args], env=env, cwd=ROOT, capture_output=True, text=True, timeout=timeout
    )


def test_ingest_and_docs_on_real_pdf_docx_and_markdown(tmp_path: Path, test_database: TestDatabase) -> None:
    config = Config(data_dir=tmp_path / "data", database_url_override=test_database.url)
    files = [HANDBOOK / n for n in ("benefits.md", "remote-work.pdf", "travel-policy.docx")]
    done = orgtune(config, "ingest", "--channel", "C0CLI", *map(str, files))
    assert done.returncode == 0, done.stderr
    lines = done.stdout.strip().splitlines()
    assert lines[0].startswith("Added benefits.md — ") and lines[0].endswith("knows 1 document.")
    assert lines[1].startswith("Added remote-work.pdf — 2 pages, ")
    assert lines[2].startswith("Added travel-policy.docx — ") and lines[2].endswith("knows 3 documents.")

    listing = orgtune(config, "docs", "--channel", "C0CLI")
    assert listing.returncode == 0
    assert listing.stdout.startswith("3 documents in this channel:")
    for name in ("benefits.md", "remote-work.pdf", "travel-policy.docx"):
        assert f"• {name} — " in listing.stdout
    assert "doesn't know any" in orgtune(config, "docs", "--channel", "C0OTHER").stdout


def test_a_rejected_file_exits_non_zero_with_a_clear_message(tmp_path: Path, test_database: TestDatabase) -> None:
    config = Config(data_dir=tmp_path / "data", database_url_override=test_database.url)
    bad = orgtune(config, "ingest", "-c", "C0CLI", str(SAMPLES / "bad" / "photo.txt"), str(HANDBOOK / "security.md"))
    assert bad.returncode == 1
    assert "Not added. photo.txt" in bad.stderr and "png image" in bad.stderr.lower()
    assert "Added security.md" in bad.stdout
    dup = orgtune(config, "ingest", "-c", "C0CLI", str(HANDBOOK / "security.md"))
    assert dup.returncode == 0 and "same content as security.md" in dup.stdout
    missing = orgtune(config, "ingest", "-c", "C0CLI", str(tmp_path / "nope.pdf"))
    assert missing.returncode == 1 and "can't be read" in missing.stderr
    listing = orgtune(config, "docs", "-c", "C0CLI").stdout
    assert listing.startswith("1 document in this channel:")


def test_forget_from_the_command_line(tmp_path: Path, test_database: TestDatabase) -> None:
    config = Config(data_dir=tmp_path / "data", database_url_override=test_database.url)
    assert orgtune(config, "ingest", "-c", "C0CLI", str(HANDBOOK / "expenses.md")).returncode == 0
    gone = orgtune(config, "forget", "-c", "C0CLI", "expenses.md")
    assert gone.returncode == 0 and gone.stdout.strip() == "Forgot expenses.md. This channel now knows 0 documents."
    assert orgtune(config, "forget", "-c", "C0CLI", "expenses.md").returncode == 1


def test_serve_without_credentials_says_what_is_missing(tmp_path: Path, test_database: TestDatabase) -> None:
    done = orgtune(Config(data_dir=tmp_path, database_url_override=test_database.url), "serve")
    assert done.returncode == 2
    assert "SLACK_BOT_TOKEN" in done.stderr and "REDIS_URL" in done.stderr


def test_eval_scores_posted_answers_of_each_configuration_side_by_side(
    tmp_path: Path, test_database: TestDatabase, models_dir: Path
) -> None:
    config = Config(
        data_dir=tmp_path / "data",
        database_url_override=test_database.url,
        models_dir_override=models_dir,
        answer_model="tiny",
    )
    assert orgtune(config, "ingest", "--channel", "C0EVAL", str(HANDBOOK / "benefits.md")).returncode == 0
    questions = tmp_path / "q.jsonl"
    questions.write_text(
        '{"question": "How many paid vacation days does a full-time employee get?", "expected": "27"}\n'
        '{"question": "Who won the office chess tournament?", "expected": null}\n'
    )
    done = orgtune(config, "eval", "--channel", "C0EVAL", str(questions), "--json", timeout=300)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["questions"] == 2 and set(report["configurations"]) == {"quote_only", "base"}
    quote_only = report["configurations"]["quote_only"]
    # the ranker's sentence answers the vacation question; the chess question is not covered
    assert (quote_only["correct"], quote_only["quoted"], quote_only["not_covered_total"]) == (2, 1, 1)
    base = report["configurations"]["base"]  # a random tiny model: never verified, so it falls back to the quote
    assert base["total"] == 2 and base["generated"] == 0
    text = orgtune(config, "eval", "--channel", "C0EVAL", str(questions), timeout=300).stdout
    assert "quote only: 2/2 right" in text and "base model:" in text
