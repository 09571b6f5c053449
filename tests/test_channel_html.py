"""The channel as Slack shows it: the page's structure from a hand-built workspace, and its pixels
from a real flow (a shared document, a /train run with its loss curve, an answered question)
screenshotted in headless Chromium."""

from __future__ import annotations

import base64
import io
import json
import re
import subprocess
import tempfile
from html import unescape
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image, ImageFilter

from slackemu.html import render_html
from slackemu.state import Message, StoredFile, Workspace
from tests.conftest import SAMPLES, Stack

CHROMIUM = Path("/usr/bin/chromium")
VOID = {"br", "hr", "img", "meta", "input", "link"}


class Node:
    def __init__(self, tag: str, attrs: dict[str, str], parent: Node | None) -> None:
        self.tag, self.attrs, self.parent = tag, attrs, parent
        self.children: list[Node | str] = []

    @property
    def classes(self) -> set[str]:
        return set(self.attrs.get("class", "").split())

    def text(self) -> str:
        return "".join(c if isinstance(c, str) else c.text() for c in self.children)

    def walk(self) -> list[Node]:
        nodes = [self]
        for c in self.children:
            if isinstance(c, Node):
                nodes += c.walk()
        return nodes

    def find(self, tag: str | None = None, cls: str | None = None, **attrs: str) -> list[Node]:
        return [
            n
            for n in self.walk()
            if (tag is None or n.tag == tag)
            and (cls is None or cls in n.classes)
            and all(n.attrs.get(k.replace("_", "-")) == v for k, v in attrs.items())
        ]

    def ancestors(self) -> list[Node]:
        out, node = [], self.parent
        while node is not None:
            out.append(node)
            node = node.parent
        return out


class TreeBuilder(HTMLParser):
    """A strict tree: every end tag must close the element that is open, so unbalanced markup fails."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Node("#root", {}, None)
        self.open = self.root

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        node = Node(tag, {k: v or "" for k, v in attrs}, self.open)
        self.open.children.append(node)
        if tag not in VOID:
            self.open = node

    def handle_endtag(self, tag: str) -> None:
        assert self.open.tag == tag, f"</{tag}> closes <{self.open.tag}>"
        assert self.open.parent is not None
        self.open = self.open.parent

    def handle_data(self, data: str) -> None:
        self.open.children.append(data)


def parse(page: str) -> Node:
    builder = TreeBuilder()
    builder.feed(page)
    builder.close()
    assert builder.open is builder.root, f"<{builder.open.tag}> never closed"
    return builder.root


def png_bytes(width: int, height: int, colour: tuple[int, int, int] = (255, 255, 255)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(buf, "PNG")
    return buf.getvalue()


def msg_node(tree: Node, m: Message) -> Node:
    [node] = tree.find("div", data_ts=m.ts)
    return node


def test_page_nests_threads_formats_blocks_and_escapes_text() -> None:
    ws = Workspace()
    ws.add_channel("C1", "general")
    ws.add_user("U1", "alice")
    ws.add_user("U2", "bob")
    t = 1_700_000_000.0
    parent = ws.add_message(
        Message("C1", f"{t:.6f}", "U1", "Hi <@U0BOT>: &lt;!channel&gt; is *bold*, _mine_ and `a &amp; b`")
    )
    parent.reactions["eyes"] = {ws.bot_user_id}
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": "Results"}},
        {
            "type": "section",
            "text": {"type": "mrkdwn", "text": ">quoted\n```x = 1 < 2```\n<https://e.x/?a=1&amp;b=2|docs>"},
        },
        {"type": "divider"},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": "Sources: *benefits.md* — Vacation"}]},
        {
            "type": "actions",
            "elements": [
                {"type": "button", "action_id": "a", "text": {"type": "plain_text", "text": ":+1: Helpful"}},
                {"type": "button", "action_id": "b", "style": "danger", "text": {"type": "plain_text", "text": "Stop"}},
            ],
        },
        {"type": "image", "image_url": "https://example.com/remote.png", "alt_text": "remote"},
    ]
    reply = ws.add_message(
        Message("C1", f"{t + 1:.6f}", ws.bot_user_id, "fallback", thread_ts=parent.ts, blocks=blocks, updates=2)
    )
    curve = png_bytes(640, 480, (30, 90, 200))
    ws.files["F1"] = StoredFile("F1", "loss-curve-v1.png", "Training loss, v1", "image/png", "png", curve, "U0BOT", 0)
    upload = ws.add_message(Message("C1", f"{t + 2:.6f}", ws.bot_user_id, "", thread_ts=parent.ts, files=["F1"]))
    ephemeral = ws.add_message(
        Message("C1", f"{t + 3:.6f}", ws.bot_user_id, "Only bob sees this", ephemeral_to="U2", via="response_url")
    )
    evil = "<script>alert(1)</script>.md"
    ws.files["F2"] = StoredFile("F2", evil, evil, "text/markdown", "markdown", b"# hi", "U2", 0)
    shared = ws.add_message(Message("C1", f"{t + 4:.6f}", "U2", "real <!channel> & co", files=["F2", "F404"]))
    ws.add_message(Message("C2", f"{t + 5:.6f}", "U1", "another channel"))

    page = render_html(ws, "C1")
    tree = parse(page)

    # Offline and inert: no scripts, no stylesheets or pictures fetched from anywhere.
    assert "<script" not in page and "<link" not in page and "url(" not in page
    assert all(img.attrs["src"].startswith("data:image/") for img in tree.find("img"))
    assert "another channel" not in page

    # Top level: parent, ephemeral, shared, in order; the thread's messages sit inside the parent.
    [main] = tree.find("main")
    top = [c for c in main.children if isinstance(c, Node)]
    assert [n.attrs["data-ts"] for n in top] == [parent.ts, ephemeral.ts, shared.ts]
    [thread] = tree.find("div", cls="thread", data_thread_ts=parent.ts)
    assert msg_node(tree, parent) in thread.ancestors()
    for m in (reply, upload):
        assert thread in msg_node(tree, m).ancestors() and "reply" in msg_node(tree, m).classes
    assert "2 replies" in msg_node(tree, parent).text()

    # Authors, the APP badge, (edited), reactions.
    head = msg_node(tree, parent)
    assert head.find(cls="meta")[0].text().startswith("alice") and not head.find(cls="meta")[0].find(cls="app")
    node = msg_node(tree, reply)
    assert node.find(cls="author")[0].text() == "orgtune" and node.find("span", cls="app")[0].text() == "APP"
    assert node.find(cls="edited") and not msg_node(tree, upload).find(cls="edited")
    assert [r.text() for r in head.find(cls="reaction")] == ["👀 1"]

    # mrkdwn: escaped text stays text, real controls become mentions, formatting applies once.
    text = head.find(cls="text")[0]
    assert "<!channel> is bold, mine and a & b" in text.text()
    assert not text.find(cls="broadcast") and text.find(cls="mention")[0].text() == "@orgtune"
    assert [n.text() for n in text.find("b")] == ["bold"] and [n.text() for n in text.find("i")] == ["mine"]
    assert text.find("code")[0].text() == "a & b" and "&amp;amp;" not in page
    assert msg_node(tree, shared).find(cls="broadcast")[0].text() == "@channel"
    assert "real @channel & co" in msg_node(tree, shared).text()

    # Block Kit: header, quote, code block, link, divider, context, buttons; the remote image is not fetched.
    assert node.find("h3", cls="header")[0].text() == "Results" and node.find("hr")
    assert node.find("blockquote")[0].text() == "quoted" and node.find("pre")[0].text() == "x = 1 < 2"
    [link] = node.find("a")
    assert link.attrs["href"] == "https://e.x/?a=1&b=2" and link.text() == "docs"
    assert "Sources: benefits.md — Vacation" in node.find(cls="context")[0].text()
    buttons = node.find(cls="btn")
    assert [b.text() for b in buttons] == ["👍 Helpful", "Stop"] and "danger" in buttons[1].classes
    assert "[image: remote]" in node.text() and "fallback" not in node.text()

    # The uploaded PNG is inlined, scaled into Slack's box with its aspect kept.
    [img] = msg_node(tree, upload).find("img", cls="inline-image")
    assert img.attrs["src"].startswith("data:image/png;base64,")
    assert base64.b64decode(img.attrs["src"].split(",", 1)[1]) == curve
    assert (img.attrs["width"], img.attrs["height"]) == ("480", "360")

    # The ephemeral message says whom it was for.
    eph = msg_node(tree, ephemeral)
    assert "ephemeral" in eph.classes and "Only visible to you (shown to bob)" in eph.text()

    # A file name is text, never markup; a deleted file is said so.
    card = msg_node(tree, shared)
    assert card.find(cls="name")[0].text() == evil and "&lt;script&gt;alert(1)&lt;/script&gt;.md" in page
    assert "This file was deleted." in card.text()


# --- the real thing, in a real browser -------------------------------------------------------------

PROBE = """<script>
const out = {height: Math.ceil(document.body.getBoundingClientRect().bottom)};
for (const [key, sel] of Object.entries(%s)) {
  const el = document.querySelector(sel);
  if (el) { const r = el.getBoundingClientRect(); out[key] = [r.left, r.top + scrollY, r.width, r.height]; }
}
document.body.setAttribute("data-probe", JSON.stringify(out));
</script>"""


def chromium(page: Path, work: Path, *args: str, height: int = 2400) -> subprocess.CompletedProcess[bytes]:
    profile = tempfile.mkdtemp(prefix="chromium-", dir=work)  # a fresh profile: no state between runs
    command = [
        str(CHROMIUM),
        "--headless",
        "--no-sandbox",  # these machines run tests as root
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--hide-scrollbars",
        "--force-device-scale-factor=1",
        f"--user-data-dir={profile}",
        f"--window-size=1200,{height}",
        *args,
        page.resolve().as_uri(),
    ]
    done = subprocess.run(command, capture_output=True, timeout=90)
    assert done.returncode == 0, done.stderr.decode(errors="replace")[-2000:]
    return done


def layout(page_html: str, selectors: dict[str, str], work: Path) -> dict[str, Any]:
    """Where the browser put each selected element: [x, y, width, height] in page pixels."""
    probe = work / "probe.html"
    probe.write_text(page_html.replace("</body>", PROBE % json.dumps(selectors) + "</body>"), encoding="utf-8")
    dom = chromium(probe, work, "--dump-dom").stdout.decode()
    found = re.search(r'data-probe="([^"]*)"', dom)
    assert found, dom[-2000:]
    return json.loads(unescape(found.group(1)))


def screenshot(page_html: str, name: str, work: Path, height: int) -> np.ndarray:
    page, shot = work / f"{name}.html", work / f"{name}.png"
    page.write_text(page_html, encoding="utf-8")
    chromium(page, work, f"--screenshot={shot}", height=height)
    return np.asarray(Image.open(shot).convert("RGB"), dtype=np.float32)


def crop(pixels: np.ndarray, box: list[float]) -> np.ndarray:
    x, y, w, h = (round(v) for v in box)
    return pixels[y : y + h, x : x + w]


def looks_alike(region: np.ndarray, png: bytes) -> float:
    """Correlation of a screenshot region with a picture scaled to it, both blurred a little so the
    browser's resampling and a sub-pixel offset don't count (about 0.97 for the same picture, 0 for a blank)."""

    def grey(im: Image.Image) -> np.ndarray:
        return np.asarray(im.convert("L").filter(ImageFilter.GaussianBlur(2)), dtype=np.float32).ravel()

    drawn = grey(Image.fromarray(region.astype(np.uint8)))
    expected = grey(Image.open(io.BytesIO(png)).resize(region.shape[1::-1], Image.Resampling.BILINEAR))
    return float(np.corrcoef(drawn, expected)[0, 1])


def ink(region: np.ndarray) -> float:
    """The share of a region drawn darker than the page's near-white background."""
    return float((region.mean(axis=2) < 160).mean())


@pytest.mark.skipif(
    not CHROMIUM.exists(), reason="needs headless Chromium at /usr/bin/chromium (scripts/setup.sh installs it)"
)
def test_a_real_flow_renders_in_chromium_with_the_loss_curve_and_the_answer(stack: Stack, tmp_path: Path) -> None:
    from slack_sdk import WebClient

    from jobs.charts import loss_curve_png

    ws = stack.ws
    stack.start_answerer()
    benefits = (SAMPLES / "handbook" / "benefits.md").read_bytes()
    shared = stack.driver.share_file("C0A", "U0ALICE", "benefits.md", benefits, text="For the bot")
    assert stack.reply_in("C0A", shared.message.ts).startswith("Added")
    stack.driver.slash("/orgtune", "docs", "C0A", "U0ALICE")
    docs = ws.wait_for(lambda: next((m for m in ws.messages if m.ephemeral_to == "U0ALICE"), None))
    # A question the handbook doesn't cover is answered without generating (a real answer, no model to
    # load), with the same blocks as any answer: the text, its context line and the feedback buttons.
    question, _ = stack.driver.mention("C0A", "U0ALICE", "Who won the office chess tournament?")
    answer = ws.wait_for(
        lambda: next((m for m in ws.replies("C0A", question.ts) if m.user == ws.bot_user_id and m.blocks), None), 150
    )
    ws.wait_for(lambda: not question.reactions.get("hourglass_flowing_sand"), 30)
    # A training run takes minutes on 2 cores (tests/test_training_e2e.py runs one); its loss curve is
    # drawn and uploaded here as jobs/train.py does it: the product's chart, through the Web API.
    curve = loss_curve_png([2.9, 2.6, 2.4, 2.1, 1.9, 1.8, 1.6, 1.5, 1.45, 1.4], "tiny v1")
    slack = WebClient(token=stack.config.slack_bot_token, base_url=stack.config.slack_api_url)
    slack.files_upload_v2(
        channel="C0A", thread_ts=question.ts, file=curve, filename="loss-curve-v1.png", title="Training loss, v1"
    )
    upload = ws.wait_for(lambda: next((m for m in ws.replies("C0A", question.ts) if m.files), None))

    page = render_html(ws, "C0A")
    (tmp_path / "channel.html").write_text(page, encoding="utf-8")
    tree = parse(page)
    # What the browser is given: the answer, its buttons and the picture in the question's thread.
    [thread] = tree.find("div", cls="thread", data_thread_ts=question.ts)
    assert msg_node(tree, answer) in thread.walk() and msg_node(tree, upload) in thread.walk()
    answer_text = msg_node(tree, answer).find(cls="section")[0].text().strip()
    assert answer_text.startswith("The documents don't cover this.") and answer_text in answer.text
    buttons = [b.text() for b in msg_node(tree, answer).find(cls="btn")]
    assert buttons == ["👍 Helpful", "👎 Not helpful"]
    assert "Only visible to you" in msg_node(tree, docs).text()

    answer_id = f"msg-{answer.ts.replace('.', '-')}"
    where = layout(
        page,
        {
            "curve": "img.inline-image",
            "answer": f"#{answer_id} .section",
            "helpful": f"#{answer_id} .btn",
            "author": f"#{answer_id} .author",
        },
        tmp_path,
    )
    assert {"curve", "answer", "helpful", "author"} <= where.keys(), where
    height = int(where["height"]) + 20
    shown = screenshot(page, "channel", tmp_path, height)
    assert shown.shape[:2] == (height, 1200)

    # Not blank: a white page with text and pictures on it.
    assert (shown > 240).all(axis=2).mean() > 0.6 and ink(shown) > 0.01

    # The loss curve is drawn where the layout put it, and it looks like the uploaded PNG.
    box = where["curve"]
    assert box[2] > 100 and box[3] > 50
    drawn = crop(shown, box)
    assert ink(drawn) > 0.005 and drawn.std() > 10
    assert looks_alike(drawn, curve) > 0.8, "the region doesn't look like the loss curve"

    # Without the picture (a blank one in its place, same layout) only that region changes.
    blank = base64.b64encode(png_bytes(8, 6)).decode()
    without = screenshot(page.replace(base64.b64encode(curve).decode(), blank), "no-curve", tmp_path, height)
    changed = np.argwhere(np.abs(shown - without).max(axis=2) > 30)
    assert len(changed) > 500, "removing the picture changed nothing: it was never drawn"
    (y0, x0), (y1, x1) = changed.min(axis=0), changed.max(axis=0)
    x, y, w, h = box
    assert x - 2 <= x0 and x1 <= x + w + 2 and y - 2 <= y0 and y1 <= y + h + 2, "changes outside the picture"

    # The answer, its Helpful button and the app's bold name are drawn: dark text pixels in their boxes.
    assert where["answer"][2] > 50 and where["answer"][3] >= 15
    assert ink(crop(shown, where["answer"])) > 0.02
    assert ink(crop(shown, where["helpful"])) > 0.05
    assert ink(crop(shown, where["author"])) > 0.05


def test_the_demo_writes_the_page_outside_the_repo_unless_told_where(tmp_path: Path) -> None:
    from orgtune.cli import build_parser
    from orgtune.demo import CHANNEL, write_channel_page

    ws = Workspace()
    ws.add_message(Message(CHANNEL, "1700000000.000100", "U0BOT", "hello"))
    printed: list[str] = []
    path = write_channel_page(ws, printed.append, tmp_path / "page.html")
    assert printed == [f"The channel as Slack shows it: {path}"] and "hello" in path.read_text()
    default = write_channel_page(ws, printed.append)
    try:
        assert default.parent == Path(tempfile.gettempdir()) and default.name.startswith("orgtune-demo-")
    finally:
        default.unlink()
    assert build_parser().parse_args(["demo", "--html", "x.html"]).html == Path("x.html")
