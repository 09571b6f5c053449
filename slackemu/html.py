"""The channel as Slack shows it: one self-contained web page rendered from the emulator's workspace.

``Workspace.render()`` is a transcript for assertions; this is for people: author
names and times, threads under their parent, Block Kit drawn (sections, context,
buttons, images), mrkdwn formatted, reactions as chips, shared files as cards and
uploaded pictures inline. Everything is inline (CSS, ``data:`` images) so the page
opens offline and nothing it shows can fetch a URL.

Slack text arrives escaped (``&amp; &lt; &gt;``); its only literal angle brackets
are control sequences (``<@U1>``, ``<url|label>``, ``<!channel>``). Those are cut
out first, the rest is unescaped once and HTML-escaped once, and only then is
mrkdwn applied, so escaped text such as ``&lt;!channel&gt;`` shows as typed and
never becomes markup.
"""

from __future__ import annotations

import base64
import html
import re
import zlib
from collections.abc import Callable
from datetime import datetime
from typing import Any

from slackemu.state import Message, StoredFile, Workspace

EMOJI = {
    "white_check_mark": "✅",
    "heavy_check_mark": "✔️",
    "x": "❌",
    "warning": "⚠️",
    "eyes": "👀",
    "hourglass": "⌛",
    "hourglass_flowing_sand": "⏳",
    "+1": "👍",
    "thumbsup": "👍",
    "-1": "👎",
    "thumbsdown": "👎",
    "no_entry_sign": "🚫",
    "weight_lifter": "🏋️",
    "package": "📦",
    "memo": "📝",
    "mag": "🔍",
    "tada": "🎉",
    "books": "📚",
}
MAX_IMAGE_WIDTH, MAX_IMAGE_HEIGHT = 480, 360
EDITED = ' <span class="edited">(edited)</span>'
# Bot-chosen colours for avatars; the app gets Slack's aubergine so it stands out.
AVATAR_COLOURS = ("#2eb67d", "#36c5f0", "#ecb22e", "#e01e5a", "#1264a3", "#e8912d", "#7c3085")
FILE_LABELS = {"markdown": "md", "text": "txt", "docx": "doc", "binary": "bin"}
FILE_COLOURS = {"pdf": "#e01e5a", "docx": "#1264a3", "doc": "#1264a3", "markdown": "#616061", "text": "#616061"}

CSS = """
*{box-sizing:border-box}
body{margin:0;background:#fff;color:#1d1c1d;font:15px/1.46668 Lato,"Helvetica Neue",Helvetica,"Liberation Sans",
Arial,sans-serif,"Apple Color Emoji","Segoe UI Emoji","Noto Color Emoji";-webkit-font-smoothing:antialiased}
header{position:sticky;top:0;background:#fff;border-bottom:1px solid #e2e2e2;padding:12px 20px;z-index:1}
header h1{margin:0;font-size:18px;font-weight:900}header .team{color:#616061;font-size:13px}
main{padding:8px 0 40px}
.msg{display:flex;gap:8px;padding:8px 20px}.msg:hover{background:#f8f8f8}
.avatar{flex:none;width:36px;height:36px;border-radius:4px;color:#fff;font-weight:900;font-size:18px;
display:flex;align-items:center;justify-content:center}
.body{min-width:0;flex:1}
.meta{display:flex;align-items:baseline;gap:6px}
.author{font-weight:900}
.app{background:rgba(29,28,29,.13);color:rgba(29,28,29,.7);font-size:10px;font-weight:700;padding:1px 3px;
border-radius:2px;letter-spacing:.3px}
time{color:#616061;font-size:12px}
.text,.section{word-wrap:break-word;white-space:normal}
.edited{color:#616061;font-size:13px}
code{color:#e01e5a;background:rgba(29,28,29,.04);border:1px solid rgba(29,28,29,.13);border-radius:3px;
padding:2px 3px;font:12px Monaco,Menlo,Consolas,"DejaVu Sans Mono",monospace}
pre{background:rgba(29,28,29,.04);border:1px solid rgba(29,28,29,.13);border-radius:4px;padding:8px;margin:4px 0;
font:12px/1.5 Monaco,Menlo,Consolas,"DejaVu Sans Mono",monospace;white-space:pre-wrap}
blockquote{margin:4px 0;padding-left:12px;border-left:4px solid #ddd}
a{color:#1264a3;text-decoration:none}
.mention{background:rgba(29,155,209,.1);color:#1264a3;border-radius:3px;padding:0 2px}
.broadcast{background:rgba(242,199,68,.4);color:#1d1c1d}
.section{display:flex;gap:12px;margin:4px 0}.section>div{flex:1}
.fields{display:grid;grid-template-columns:1fr 1fr;gap:8px 16px;margin-top:6px}
h3.header{font-size:18px;font-weight:900;margin:6px 0}
.context{color:#616061;font-size:12px;margin:4px 0;display:flex;flex-wrap:wrap;gap:4px;align-items:center}
.context img{width:16px;height:16px;border-radius:2px}
hr{border:0;border-top:1px solid #e2e2e2;margin:8px 0}
.actions{display:flex;gap:8px;flex-wrap:wrap;margin:8px 0 4px}
.btn{display:inline-flex;align-items:center;height:28px;padding:0 12px;border:1px solid rgba(29,28,29,.3);
border-radius:4px;background:#fff;color:#1d1c1d;font-weight:700;font-size:13px}
.btn.primary{background:#007a5a;border-color:#007a5a;color:#fff}.btn.danger{color:#e01e5a}
.select{font-weight:400;color:#616061}
.reactions{display:flex;gap:4px;margin-top:4px}
.reaction{display:inline-flex;gap:4px;align-items:center;padding:1px 7px;border-radius:12px;font-size:12px;
background:rgba(29,28,29,.06);border:1px solid transparent}.reaction.mine{background:#e8f5fa;border-color:#1264a3}
.file{display:inline-flex;gap:12px;align-items:center;border:1px solid rgba(29,28,29,.13);border-radius:8px;
padding:10px 14px 10px 10px;margin:4px 8px 0 0;min-width:280px;background:#fff}
.file .icon{width:36px;height:36px;border-radius:6px;color:#fff;font-size:10px;font-weight:900;display:flex;
align-items:center;justify-content:center;text-transform:uppercase}
.file .name{font-weight:700}.file .kind{color:#616061;font-size:13px}
figure{margin:6px 0 0}figcaption{color:#616061;font-size:13px;margin-bottom:4px}
figure img{display:block;max-height:360px;border:1px solid rgba(29,28,29,.13);border-radius:8px;max-width:100%}
.missing{color:#616061;font-style:italic}
.thread{margin:4px 0 0;border-left:3px solid #ddd}.thread .msg{padding:6px 12px}
.replies{color:#1264a3;font-size:13px;font-weight:700;margin-top:4px}
.ephemeral{background:#f8f8f8}.ephemeral .avatar{opacity:.8}
.only{color:#616061;font-size:12px;margin-bottom:2px}.only b{color:#1d1c1d}
"""


def render_html(workspace: Workspace, channel: str) -> str:
    """A complete page showing ``channel``: top-level messages in order, each thread nested under its parent."""
    with workspace.lock:  # the bot may still be posting; render one consistent moment
        page = _Page(workspace)
        msgs = [m for m in workspace.messages if m.channel == channel]
        parents = {m.ts for m in msgs if not m.is_reply}
        # A reply whose parent isn't in the channel is shown where it is rather than dropped.
        top = [m for m in msgs if not m.is_reply or m.thread_ts not in parents]
        body = "\n".join(page.message(m, [r for r in msgs if r.is_reply and r.thread_ts == m.ts]) for m in top)
        name = workspace.channels.get(channel, channel)
        private = channel in getattr(workspace, "private", set())
    title = f"{'🔒' if private else '#'}{_esc(name)}"
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{title}</title><style>{CSS}</style></head>\n<body>"
        f'<header><h1>{title}</h1><span class="team">{_esc(workspace.team_name)} · {len(msgs)} messages</span>'
        f'</header>\n<main data-channel="{_attr(channel)}">\n{body}\n</main></body></html>\n'
    )


class _Page:
    def __init__(self, ws: Workspace) -> None:
        self.ws = ws

    def message(self, m: Message, replies: list[Message]) -> str:
        ws = self.ws
        who = ws.users.get(m.user, m.user)
        is_app = m.user == ws.bot_user_id
        colour = "#4a154b" if is_app else AVATAR_COLOURS[zlib.crc32(m.user.encode()) % len(AVATAR_COLOURS)]
        meta = f'<span class="author">{_esc(who)}</span>' + ('<span class="app">APP</span>' if is_app else "")
        meta += _time(m.ts)
        only = ""
        if m.ephemeral_to:
            shown_to = ws.users.get(m.ephemeral_to, m.ephemeral_to)
            only = f'<div class="only">Only visible to you <span>(shown to <b>{_esc(shown_to)}</b>)</span></div>'
        edited = EDITED if m.updates else ""
        content = self.blocks(m.blocks or [], edited) if m.blocks else ""
        if not content and (m.text or edited):
            content = f'<div class="text">{self.mrkdwn(m.text)}{edited}</div>'
        content += "".join(self.file(fid) for fid in m.files)
        content += self.reactions(m)
        thread = ""
        if replies:
            n = len(replies)
            thread = f'<div class="replies">{n} {"reply" if n == 1 else "replies"}</div>'
            thread += f'<div class="thread" data-thread-ts="{_attr(m.ts)}">'
            thread += "".join(self.message(r, []) for r in replies) + "</div>"
        classes = "msg reply" if m.is_reply else "msg"
        if m.ephemeral_to:
            classes += " ephemeral"
        return (
            f'<div class="{classes}" id="msg-{_attr(m.ts.replace(".", "-"))}" data-ts="{_attr(m.ts)}">'
            f'<div class="avatar" style="background:{colour}">{_esc(who[:1].upper())}</div>'
            f'<div class="body">{only}<div class="meta">{meta}</div>{content}{thread}</div></div>'
        )

    # --- Block Kit -------------------------------------------------------------------------
    def blocks(self, blocks: list[dict[str, Any]], edited: str = "") -> str:
        """``edited`` goes after the last section's text, where Slack writes "(edited)"."""
        blocks = [b for b in blocks if isinstance(b, dict)]
        last = max((i for i, b in enumerate(blocks) if b.get("type") == "section"), default=-1)
        html_ = "".join(self.block(b, edited if i == last else "") for i, b in enumerate(blocks))
        return html_ + edited if html_ and last < 0 else html_

    def block(self, b: dict[str, Any], edited: str = "") -> str:
        kind = b.get("type")
        if kind == "section":
            text = (self.text(b["text"]) if isinstance(b.get("text"), dict) else "") + edited
            fields = "".join(f"<div>{self.text(f)}</div>" for f in b.get("fields") or [] if isinstance(f, dict))
            if fields:
                text += f'<div class="fields">{fields}</div>'
            accessory = b.get("accessory")
            extra = self.element(accessory) if isinstance(accessory, dict) else ""
            return f'<div class="section"><div>{text}</div>{extra}</div>'
        if kind == "header":
            return f'<h3 class="header">{self.text(b.get("text") or {})}</h3>'
        if kind == "divider":
            return "<hr>"
        if kind == "context":
            return f'<div class="context">{"".join(self.element(e) for e in b.get("elements") or [])}</div>'
        if kind == "actions":
            return f'<div class="actions">{"".join(self.element(e) for e in b.get("elements") or [])}</div>'
        if kind == "image":
            title = b.get("title")
            caption = f"<figcaption>{self.text(title)}</figcaption>" if isinstance(title, dict) else ""
            return f'<figure class="block-image">{caption}{self.image(b)}</figure>'
        return ""  # input, file, rich_text...: the message's text is the fallback when nothing renders

    def element(self, e: dict[str, Any]) -> str:
        kind = e.get("type")
        if kind in ("mrkdwn", "plain_text"):
            return f"<span>{self.text(e)}</span>"
        if kind == "image":
            return self.image(e, 16)
        if kind == "button":
            style = e.get("style") if e.get("style") in ("primary", "danger") else ""
            return f'<span class="btn {style}" role="button">{self.text(e.get("text") or {})}</span>'
        initial = e.get("initial_option")
        placeholder = e.get("placeholder") or (initial.get("text") if isinstance(initial, dict) else None)
        label = self.text(placeholder) if isinstance(placeholder, dict) else _esc(str(kind or "element"))
        return f'<span class="btn select">{label} ▾</span>'  # selects, overflow menus, pickers

    def text(self, t: dict[str, Any]) -> str:
        raw = str(t.get("text", ""))
        if t.get("type") == "mrkdwn":
            return self.mrkdwn(raw)
        return _emoji(_esc(raw)) if t.get("emoji", True) else _esc(raw)

    def image(self, e: dict[str, Any], width: int = 0) -> str:
        """Only pictures the page itself carries: data: URIs and files uploaded to the workspace.

        ``width`` 0 keeps the natural size, within the CSS box."""
        alt = _attr(str(e.get("alt_text", "")))
        size = f' width="{width}"' if width else ""
        url = str(e.get("image_url") or "")
        stored = self.ws.files.get(str((e.get("slack_file") or {}).get("id", "")))
        if stored is not None:
            uri = _data_uri(stored.content)
            if uri:
                return f'<img src="{uri}" alt="{alt}"{size}>'
        if url.startswith("data:image/") and not url.startswith("data:image/svg"):
            return f'<img src="{_attr(url)}" alt="{alt}"{size}>'
        # A remote picture would make the page fetch a URL; name it instead.
        return f'<span class="missing" title="{_attr(url)}">[image: {alt or "external"}]</span>'

    # --- files and reactions ----------------------------------------------------------------
    def file(self, fid: str) -> str:
        f = self.ws.files.get(fid)
        if f is None:
            return '<div class="file missing">This file was deleted.</div>'
        uri = _data_uri(f.content) if f.mimetype.startswith("image/") else None
        if uri:
            w, h = _fit(_png_size(f.content))
            size = f' width="{w}" height="{h}"' if w else ""
            return (
                f'<figure class="image"><figcaption>{_esc(f.title or f.name)}</figcaption>'
                f'<img class="inline-image" data-file-id="{_attr(f.id)}" src="{uri}" alt="{_attr(f.name)}"{size}>'
                "</figure>"
            )
        return (
            f'<div class="file" data-file-id="{_attr(f.id)}"><div class="icon" style="background:'
            f'{FILE_COLOURS.get(f.filetype, "#1d9bd1")}">{_esc(FILE_LABELS.get(f.filetype, f.filetype[:4]))}</div><div>'
            f'<div class="name">{_esc(f.name)}</div><div class="kind">{_esc(_kind(f))}</div></div></div>'
        )

    def reactions(self, m: Message) -> str:
        chips = []
        for name, users in m.reactions.items():
            if not users:
                continue
            names = ", ".join(sorted(self.ws.users.get(u, u) for u in users))
            mine = " mine" if self.ws.bot_user_id in users else ""  # Slack outlines reactions of the viewer
            chips.append(
                f'<span class="reaction{mine}" title="{_attr(names)}">{_emoji(_esc(f":{name}:"))} {len(users)}</span>'
            )
        return f'<div class="reactions">{"".join(chips)}</div>' if chips else ""

    # --- mrkdwn ------------------------------------------------------------------------------
    def mrkdwn(self, text: str) -> str:
        stash: list[str] = []

        def keep(fragment: str) -> str:
            stash.append(fragment)
            return f"\x00{len(stash) - 1}\x00"

        text = text.replace("\x00", "")  # placeholders below use NUL; text can't forge one
        text = _CONTROL.sub(lambda m: keep(self.control(m.group(1))), text)
        text = _FENCE.sub(lambda m: keep(f"<pre>{_esc(m.group(1).strip(chr(10)))}</pre>"), text)
        text = _CODE.sub(lambda m: keep(f"<code>{_esc(m.group(1))}</code>"), text)
        out: list[str] = []
        quote: list[str] = []
        for line in text.split("\n"):
            marker = _QUOTE.match(line)
            formatted = _inline(_esc(line[marker.end() :] if marker else line))
            if marker:
                quote.append(formatted)
                continue
            if quote:
                out.append(f"<blockquote>{'<br>'.join(quote)}</blockquote>")
                quote = []
            out.append(formatted + "<br>")
        if quote:
            out.append(f"<blockquote>{'<br>'.join(quote)}</blockquote>")
        result = "".join(out).removesuffix("<br>")
        while "\x00" in result:  # code may hold a stashed mention; restore until none is left
            result = _SLOT.sub(lambda m: stash[int(m.group(1))], result)
        return result

    def control(self, inner: str) -> str:
        """One ``<...>`` sequence: a mention, a broadcast, a date or a link."""
        target, _, label = inner.partition("|")
        if target.startswith("@"):
            name = label or self.ws.users.get(target[1:], target[1:])
            return f'<span class="mention">@{_esc(name)}</span>'
        if target.startswith("#"):
            name = label or self.ws.channels.get(target[1:], target[1:])
            return f'<span class="mention">#{_esc(name)}</span>'
        if target.startswith("!"):
            word = target[1:].split("^", 1)[0]
            if word in ("channel", "here", "everyone"):
                return f'<span class="mention broadcast">@{word}</span>'
            return _esc(label or f"@{word}")  # dates and user groups carry a fallback label
        if re.match(r"(?i)(https?://|mailto:)", target):
            return f'<a href="{_attr(_unslack(target))}">{_esc(label or target)}</a>'
        return _esc(f"<{inner}>")


_CONTROL = re.compile(r"<([^<>\n]+)>")
_FENCE = re.compile(r"```(.*?)```", re.S)
_CODE = re.compile(r"`([^`\n]+)`")
_QUOTE = re.compile(r"^(?:>|&gt;) ?")
_SLOT = re.compile(r"\x00(\d+)\x00")
# Slack formats *bold* only at word edges, so snake_case_names and 2*3*4 stay as they are.
_STYLES = [
    (re.compile(r"(?<![\w*])\*(?=\S)([^*\n]*?\S)\*(?![\w*])"), "b"),
    (re.compile(r"(?<![\w_])_(?=\S)([^_\n]*?\S)_(?![\w_])"), "i"),
    (re.compile(r"(?<![\w~])~(?=\S)([^~\n]*?\S)~(?![\w~])"), "s"),
]
_EMOJI = re.compile(r":([a-z0-9_+\-]+):")


def _inline(escaped: str) -> str:
    for pattern, tag in _STYLES:
        escaped = pattern.sub(rf"<{tag}>\1</{tag}>", escaped)
    return _emoji(escaped)


def _emoji(escaped: str) -> str:
    return _EMOJI.sub(lambda m: EMOJI.get(m.group(1), m.group(0)), escaped)


def _unslack(text: str) -> str:
    """Undo Slack's escaping (``&amp;`` last, so ``&amp;lt;`` stays the text ``&lt;``)."""
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def _esc(text: str) -> str:
    return html.escape(_unslack(text), quote=False)


def _attr(text: str) -> str:
    return html.escape(_unslack(text), quote=True)


def _time(ts: str) -> str:
    """Slack's short clock time; the full date on hover."""
    try:
        when = datetime.fromtimestamp(float(ts))
    except (TypeError, ValueError, OverflowError, OSError):
        return f"<time>{_esc(ts)}</time>"
    clock = f"{when.hour % 12 or 12}:{when.minute:02d} {'AM' if when.hour < 12 else 'PM'}"
    full = f"{when:%A, %B %d %Y at %H:%M:%S}"
    return f'<time datetime="{when.isoformat(timespec="seconds")}" title="{full}">{clock}</time>'


_MAGIC: list[tuple[Callable[[bytes], bool], str]] = [
    (lambda b: b.startswith(b"\x89PNG\r\n\x1a\n"), "image/png"),
    (lambda b: b.startswith(b"\xff\xd8\xff"), "image/jpeg"),
    (lambda b: b.startswith((b"GIF87a", b"GIF89a")), "image/gif"),
    (lambda b: b[:4] == b"RIFF" and b[8:12] == b"WEBP", "image/webp"),
]


def _data_uri(content: bytes) -> str | None:
    """A data: URI when the bytes really are a raster picture (the name or claimed type may lie)."""
    kind = next((mime for test, mime in _MAGIC if test(content)), None)
    return f"data:{kind};base64,{base64.b64encode(content).decode()}" if kind else None


def _png_size(content: bytes) -> tuple[int, int]:
    if content.startswith(b"\x89PNG\r\n\x1a\n") and content[12:16] == b"IHDR":
        return int.from_bytes(content[16:20], "big"), int.from_bytes(content[20:24], "big")
    return 0, 0


def _fit(size: tuple[int, int]) -> tuple[int, int]:
    """Slack's thumbnail box: never upscaled, aspect kept. Fixed sizes keep the layout independent of decoding."""
    w, h = size
    if not w or not h:
        return 0, 0
    scale = min(1.0, MAX_IMAGE_WIDTH / w, MAX_IMAGE_HEIGHT / h)
    return max(1, round(w * scale)), max(1, round(h * scale))


def _kind(f: StoredFile) -> str:
    size = float(f.size)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            amount = f"{size:.0f}" if unit == "B" else f"{size:.1f}"
            return f"{f.filetype.upper()} · {amount} {unit}"
        size /= 1024
    return f.filetype.upper()
