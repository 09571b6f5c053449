"""End to end: signed Slack requests -> bot -> Redis/RQ worker process -> emulator replies."""

from __future__ import annotations

import io
import zipfile

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from storage.models import Document, DocumentStatus, Section
from tests.conftest import SAMPLES, Stack

HANDBOOK = SAMPLES / "handbook"


def docs_in(stack: Stack, channel: str, status: str | None = None) -> list[Document]:
    with stack.db.session() as s:
        stmt = select(Document).where(Document.channel_id == channel).options(selectinload(Document.sections))
        if status:
            stmt = stmt.where(Document.status == status)
        return list(s.scalars(stmt).all())


def section_count(stack: Stack) -> int:
    with stack.db.session() as s:
        return int(s.scalar(select(func.count(Section.id))) or 0)


def test_file_shared_in_a_thread_becomes_one_document_and_one_reply(stack: Stack) -> None:
    question = stack.driver.say("C0A", "U0ALICE", "What are our benefits?")
    shared = stack.driver.share_file(
        "C0A", "U0ALICE", "benefits.md", (HANDBOOK / "benefits.md").read_bytes(), thread_ts=question.ts
    )
    assert [a.status for a in shared.acks] == [200, 200]  # message + file_shared, both acked

    reply = stack.reply_in("C0A", question.ts)
    assert reply.startswith("Added *benefits.md* — ")
    assert "This channel now knows 1 document." in reply
    assert "sections" in reply and "words" in reply

    [doc] = docs_in(stack, "C0A")
    assert doc.status == DocumentStatus.READY and doc.thread_ts == question.ts
    assert doc.sha256 and doc.words and doc.words > 300 and doc.uploader == "U0ALICE"
    headings = [s.heading for s in doc.sections]
    assert "Vacation" in " ".join(headings)
    assert f"{len(doc.sections)} section" in reply and f"{doc.words:,} words" in reply
    # Exactly one reply, in the thread, and the :eyes: acknowledgement was taken back.
    bot_msgs = stack.ws.bot_messages("C0A")
    assert len(bot_msgs) == 1 and bot_msgs[0].thread_ts == question.ts
    stack.ws.wait_for(lambda: not shared.message.reactions.get("eyes"))
    assert len(stack.ws.calls_to("reactions.add")) == 1


def test_retried_and_doubly_delivered_events_have_the_effect_of_one(stack: Stack) -> None:
    shared = stack.driver.share_file("C0A", "U0ALICE", "expenses.md", (HANDBOOK / "expenses.md").read_bytes())
    stack.reply_in("C0A", shared.message.ts)
    retry = stack.driver.retry(shared)  # same event id, X-Slack-Retry-Num: 1
    again = stack.driver.deliver("file_shared", shared, "C0A")  # a fresh event id for the same file
    assert retry.status == 200 and again.status == 200
    # Give a (wrong) second job every chance to run before checking nothing changed.
    stack.driver.share_file("C0A", "U0ALICE", "security.md", (HANDBOOK / "security.md").read_bytes())
    stack.ws.wait_for(lambda: len(stack.ws.bot_messages("C0A")) >= 2)
    stack.ws.wait_for(lambda: len(docs_in(stack, "C0A", DocumentStatus.READY)) == 2)
    assert len(docs_in(stack, "C0A")) == 2
    assert len(stack.ws.replies("C0A", shared.message.ts)) == 1
    assert len(stack.ws.calls_to("files.download")) == 2


def test_pdf_and_docx_report_pages_and_sections(stack: Stack) -> None:
    pdf = stack.driver.share_file("C0A", "U0ALICE", "remote-work.pdf", (HANDBOOK / "remote-work.pdf").read_bytes())
    docx = stack.driver.share_file(
        "C0A", "U0ALICE", "travel-policy.docx", (HANDBOOK / "travel-policy.docx").read_bytes()
    )
    assert "— 2 pages, " in stack.reply_in("C0A", pdf.message.ts)
    docx_reply = stack.reply_in("C0A", docx.message.ts)
    assert docx_reply.startswith("Added *travel-policy.docx* — ") and "pages" not in docx_reply
    stack.ws.wait_for(lambda: len(docs_in(stack, "C0A", DocumentStatus.READY)) == 2)
    kinds = {d.name: d.kind for d in docs_in(stack, "C0A")}
    assert kinds == {"remote-work.pdf": "pdf", "travel-policy.docx": "docx"}


def test_same_content_under_another_name_is_a_duplicate(stack: Stack) -> None:
    data = (HANDBOOK / "onboarding.md").read_bytes()
    first = stack.driver.share_file("C0A", "U0ALICE", "onboarding.md", data)
    stack.reply_in("C0A", first.message.ts)
    copy = stack.driver.share_file("C0A", "U0ALICE", "onboarding-final-v2.md", data)
    reply = stack.reply_in("C0A", copy.message.ts)
    assert "same content as *onboarding.md*" in reply and "knows 1 document" in reply
    assert len(docs_in(stack, "C0A", DocumentStatus.READY)) == 1


def _zip_bomb() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("[Content_Types].xml", "<Types/>")
        zf.writestr("word/document.xml", b"\0" * (120 * 1024 * 1024))
    return buf.getvalue()


def _encrypted_pdf() -> bytes:
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(HANDBOOK / "remote-work.pdf"))
    writer.encrypt(user_password="hunter2", owner_password="owner")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


BAD_INPUTS = {
    "empty.txt": (b"", "empty"),
    "whitespace.md": (b"  \n\n\t ", "empty"),
    "photo.txt": ((SAMPLES / "bad" / "photo.txt").read_bytes(), "looks like a png image"),
    "notes.txt": (bytes(range(256)) * 8, "binary"),
    "corrupt.pdf": (b"%PDF-1.7\n1 0 obj << /Type /Catalog >>\ngarbage\x00\xff\xfe" * 10, "corrupt"),
    "locked.pdf": (_encrypted_pdf(), "password"),
    "bomb.docx": (_zip_bomb(), "zip bomb"),
    "diagram.png": ((SAMPLES / "bad" / "photo.txt").read_bytes(), "png"),
    "program.exe": (b"MZ\x90\x00" + bytes(range(256)) * 4, "windows program"),
}


@pytest.mark.parametrize("name", list(BAD_INPUTS))
def test_bad_input_gets_a_clear_reply_and_stores_nothing(stack: Stack, name: str) -> None:
    data, expected = BAD_INPUTS[name]
    shared = stack.driver.share_file("C0A", "U0ALICE", name, data)
    reply = stack.reply_in("C0A", shared.message.ts)
    assert reply.startswith(":warning: Not added.")
    assert expected in reply.lower()
    assert name in reply
    assert docs_in(stack, "C0A", DocumentStatus.READY) == []
    assert section_count(stack) == 0
    # The worker keeps serving: the next good file is added.
    good = stack.driver.share_file("C0A", "U0ALICE", "benefits.md", (HANDBOOK / "benefits.md").read_bytes())
    assert stack.reply_in("C0A", good.message.ts).startswith("Added *benefits.md*")


def test_oversized_file_is_refused_from_metadata_without_downloading(stack: Stack) -> None:
    shared = stack.driver.share_file("C0A", "U0ALICE", "huge.pdf", b"%PDF-1.4 tiny", size=300 * 1024 * 1024)
    reply = stack.reply_in("C0A", shared.message.ts)
    assert "huge.pdf is 300.0 MB, over the 20 MB limit" in reply
    assert stack.ws.calls_to("files.download") == []


def test_text_in_odd_encodings_is_decoded(stack: Stack) -> None:
    text = "# Café policy\n\nThe café opens at 08:00 and serves crème brûlée on Fridays for everyone.\n"
    shared = stack.driver.share_file("C0A", "U0ALICE", "cafe.txt", text.encode("cp1252"))
    assert stack.reply_in("C0A", shared.message.ts).startswith("Added *cafe.txt*")
    utf16 = stack.driver.share_file("C0B", "U0ALICE", "cafe16.txt", text.encode("utf-16"))
    assert stack.reply_in("C0B", utf16.message.ts).startswith("Added *cafe16.txt*")
    [doc] = docs_in(stack, "C0A", DocumentStatus.READY)
    assert "crème brûlée" in " ".join(s.text for s in doc.sections)


def test_the_bot_ignores_its_own_messages(stack: Stack) -> None:
    ws = stack.ws
    msg = stack.driver.say("C0A", ws.bot_user_id, "my own chart")
    event = {
        "type": "message",
        "subtype": "file_share",
        "user": ws.bot_user_id,
        "bot_id": ws.bot_id,
        "text": "",
        "ts": msg.ts,
        "channel": "C0A",
        "event_ts": msg.ts,
        "files": [{"id": "F9", "name": "chart.png", "size": 10}],
    }
    assert stack.driver.send_event(event).status == 200
    file_shared = {
        "type": "file_shared",
        "channel_id": "C0A",
        "file_id": "F9",
        "user_id": ws.bot_user_id,
        "file": {"id": "F9"},
        "event_ts": msg.ts,
    }
    assert stack.driver.send_event(file_shared).status == 200
    good = stack.driver.share_file("C0A", "U0ALICE", "benefits.md", (HANDBOOK / "benefits.md").read_bytes())
    stack.reply_in("C0A", good.message.ts)
    assert [d.name for d in docs_in(stack, "C0A")] == ["benefits.md"]


@pytest.mark.parametrize("how", ["forged", "stale", "missing"])
def test_requests_without_a_valid_signature_are_rejected(stack: Stack, how: str) -> None:
    import json
    import time

    drv = stack.driver
    event = {
        "type": "message",
        "subtype": "file_share",
        "user": "U0ALICE",
        "ts": "1.0",
        "channel": "C0A",
        "files": [{"id": "F1", "name": "x.md"}],
    }
    body = json.dumps(
        {"type": "event_callback", "team_id": drv.ws.team_id, "event": event, "event_id": "EvForged"}
    ).encode()
    kwargs = {
        "forged": {"secret": "not-the-secret"},
        "stale": {"timestamp": time.time() - 6 * 60},
        "missing": {"signed": False},
    }[how]
    ack = drv.post("event:message", body, "application/json", **kwargs)
    assert ack.status == 401
    assert docs_in(stack, "C0A") == []


def test_every_ack_is_under_three_seconds(stack: Stack) -> None:
    for name in ("benefits.md", "expenses.md", "security.md", "remote-work.pdf", "travel-policy.docx"):
        stack.driver.share_file("C0A", "U0ALICE", name, (HANDBOOK / name).read_bytes())
    stack.driver.slash("/orgtune", "docs", "C0A", "U0ALICE")
    stack.driver.slash("/orgtune", "help", "C0A", "U0ALICE")
    stack.ws.wait_for(lambda: len(docs_in(stack, "C0A", DocumentStatus.READY)) == 5, timeout=90)
    assert len(stack.driver.acks) == 12
    assert all(a.status == 200 for a in stack.driver.acks)
    assert max(a.seconds for a in stack.driver.acks) < 3.0


def test_an_unexpected_job_failure_reaches_the_channel(stack: Stack) -> None:
    stack.stop_worker()
    shared = stack.driver.share_file("C0A", "U0ALICE", "benefits.md", (HANDBOOK / "benefits.md").read_bytes())
    stack.ws.wait_for(lambda: docs_in(stack, "C0A"))
    del stack.ws.files[shared.file_id]  # deleted in Slack before the worker got to it
    stack.start_worker()
    reply = stack.reply_in("C0A", shared.message.ts)
    assert reply.startswith(":x: Something went wrong on my side while adding *benefits.md* (the file is no longer")
    [doc] = docs_in(stack, "C0A")
    assert doc.status == DocumentStatus.REJECTED and doc.error_code == "internal"
    assert "Traceback" in stack.worker_output()  # the log has the traceback
    assert stack.emulator.bot_token not in stack.worker_output()
