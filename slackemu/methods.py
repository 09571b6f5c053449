"""Web API methods of the emulator, with Slack's documented argument and result shapes."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from slackemu.state import Message, StoredFile

if TYPE_CHECKING:
    from slackemu.server import SlackEmulator

Result = dict[str, Any]
Method = Callable[["SlackEmulator", dict[str, Any]], Result]


def call(emu: SlackEmulator, method: str, params: dict[str, Any]) -> Result:
    impl = METHODS.get(method)
    if impl is None:
        return {"ok": False, "error": "unknown_method"}
    return impl(emu, params)


def _err(error: str) -> Result:
    return {"ok": False, "error": error}


def auth_test(emu: SlackEmulator, _p: dict[str, Any]) -> Result:
    ws = emu.workspace
    return {
        "ok": True,
        "url": f"https://{ws.team_name}.slack.com/",
        "team": ws.team_name,
        "user": ws.users[ws.bot_user_id],
        "team_id": ws.team_id,
        "user_id": ws.bot_user_id,
        "bot_id": ws.bot_id,
        "is_enterprise_install": False,
    }


def _blocks(p: dict[str, Any]) -> list[dict[str, Any]] | None:
    blocks = p.get("blocks")
    if isinstance(blocks, str):
        blocks = json.loads(blocks)
    return blocks or None


def _message_json(m: Message) -> Result:
    out: Result = {"type": "message", "user": m.user, "text": m.text, "ts": m.ts}
    if m.thread_ts:
        out["thread_ts"] = m.thread_ts
    if m.blocks:
        out["blocks"] = m.blocks
    return out


def chat_post_message(emu: SlackEmulator, p: dict[str, Any]) -> Result:
    ws = emu.workspace
    channel = p.get("channel") or ""
    if (error := ws.channel_error(channel)) is not None:
        return _err(error)
    if not p.get("text") and not p.get("blocks"):
        return _err("no_text")
    thread_ts = p.get("thread_ts") or None
    if thread_ts:
        parent = ws.find_message(channel, thread_ts)
        if parent is None:
            return _err("thread_not_found")
        if parent.is_reply:
            # Slack's docs: "Avoid using a reply's ts value; use its parent instead."
            # Such a message starts a thread under a reply, which no Slack client shows.
            return {**_err("invalid_thread_ts"), "warning": "thread_ts of a reply"}
    msg = ws.add_message(
        Message(
            channel=channel,
            ts=ws.new_ts(),
            user=ws.bot_user_id,
            text=p.get("text", ""),
            thread_ts=thread_ts,
            blocks=_blocks(p),
        )
    )
    return {"ok": True, "channel": channel, "ts": msg.ts, "message": _message_json(msg)}


def chat_update(emu: SlackEmulator, p: dict[str, Any]) -> Result:
    ws = emu.workspace
    if (error := ws.channel_error(p.get("channel", ""))) is not None:
        return _err(error)
    with ws.changed:
        msg = ws.find_message(p.get("channel", ""), p.get("ts", ""))
        if msg is None:
            return _err("message_not_found")
        if msg.user != ws.bot_user_id:
            return _err("cant_update_message")
        msg.text = p.get("text", msg.text)
        msg.blocks = _blocks(p) or msg.blocks
        msg.updates += 1
        msg.update_times.append(time.time())
        ws.changed.notify_all()
    return {"ok": True, "channel": msg.channel, "ts": msg.ts, "text": msg.text}


def chat_post_ephemeral(emu: SlackEmulator, p: dict[str, Any]) -> Result:
    ws = emu.workspace
    if (error := ws.channel_error(p.get("channel", ""))) is not None:
        return _err(error)
    if not p.get("user") or p["user"] not in ws.members.get(p.get("channel", ""), set()) | ws.users.keys():
        return _err("user_not_in_channel")
    msg = ws.add_message(
        Message(
            channel=p.get("channel", ""),
            ts=ws.new_ts(),
            user=ws.bot_user_id,
            text=p.get("text", ""),
            thread_ts=p.get("thread_ts") or None,
            blocks=_blocks(p),
            ephemeral_to=p["user"],
            via="chat.postEphemeral",
        )
    )
    return {"ok": True, "message_ts": msg.ts}


def _reaction(emu: SlackEmulator, p: dict[str, Any], add: bool) -> Result:
    ws = emu.workspace
    with ws.changed:
        msg = ws.find_message(p.get("channel", ""), p.get("timestamp", ""))
        if msg is None:
            return _err("message_not_found")
        users = msg.reactions.setdefault(p.get("name", ""), set())
        if add and ws.bot_user_id in users:
            return _err("already_reacted")
        if not add and ws.bot_user_id not in users:
            return _err("no_reaction")
        (users.add if add else users.discard)(ws.bot_user_id)
        ws.changed.notify_all()
    return {"ok": True}


def file_json(emu: SlackEmulator, f: StoredFile) -> Result:
    return {
        "id": f.id,
        "created": f.created,
        "timestamp": f.created,
        "name": f.name,
        "title": f.title,
        "mimetype": f.mimetype,
        "filetype": f.filetype,
        "pretty_type": f.filetype.upper(),
        "user": f.user,
        "user_team": emu.workspace.team_id,
        "editable": False,
        "size": f.size,
        "mode": "hosted",
        "is_external": False,
        "external_type": "",
        "is_public": True,
        "public_url_shared": False,
        "display_as_bot": False,
        "username": "",
        "url_private": emu.file_url(f.id, f.name),
        "url_private_download": emu.file_url(f.id, f.name) + "?download=1",
        "permalink": f"https://{emu.workspace.team_name}.slack.com/files/{f.user}/{f.id}/{f.name}",
        "shares": {"public": f.shares} if f.shares else {},
        "channels": list(f.shares),
    }


def files_info(emu: SlackEmulator, p: dict[str, Any]) -> Result:
    f = emu.workspace.files.get(p.get("file", ""))
    if f is None:
        return _err("file_not_found")
    return {"ok": True, "file": file_json(emu, f), "comments": [], "response_metadata": {"next_cursor": ""}}


def get_upload_url(emu: SlackEmulator, p: dict[str, Any]) -> Result:
    ws = emu.workspace
    if not p.get("filename") or not str(p.get("length", "")).isdigit():
        return _err("invalid_arguments")
    fid = ws.new_id("F")
    ws.files[fid] = StoredFile(
        fid,
        p["filename"],
        p["filename"],
        _mimetype(p["filename"]),
        _filetype(p["filename"]),
        b"",
        ws.bot_user_id,
        int(time.time()),
    )
    return {"ok": True, "upload_url": f"{emu.base_url}/upload/{fid}", "file_id": fid}


def receive_upload(emu: SlackEmulator, fid: str, body: bytes, _token: str | None) -> bool:
    stored = emu.workspace.files.get(fid)
    if stored is None:
        return False
    stored.content = body
    emu.workspace.record("files.upload", {"file": fid, "bytes": len(body)}, True, None)
    return True


def complete_upload(emu: SlackEmulator, p: dict[str, Any]) -> Result:
    ws = emu.workspace
    entries = p.get("files")
    entries = json.loads(entries) if isinstance(entries, str) else entries or []
    channel, thread_ts = p.get("channel_id"), p.get("thread_ts") or None
    out = []
    for entry in entries:
        f = ws.files.get(entry.get("id", ""))
        if f is None or not f.content:
            return _err("file_not_found")
        f.title = entry.get("title") or f.name
        out.append(file_json(emu, f))
    if channel:
        msg = ws.add_message(
            Message(
                channel=channel,
                ts=ws.new_ts(),
                user=ws.bot_user_id,
                text=p.get("initial_comment", ""),
                thread_ts=thread_ts,
                files=[e["id"] for e in entries],
                via="files.completeUploadExternal",
            )
        )
        for e in entries:
            share = {"ts": msg.ts, "channel_name": ws.channels.get(channel, channel)}
            if thread_ts:
                share["thread_ts"] = thread_ts
            ws.files[e["id"]].shares.setdefault(channel, []).append(share)
    return {"ok": True, "files": out}


def users_info(emu: SlackEmulator, p: dict[str, Any]) -> Result:
    ws = emu.workspace
    uid = p.get("user", "")
    if uid not in ws.users:
        return _err("user_not_found")
    name = ws.users[uid]
    return {
        "ok": True,
        "user": {
            "id": uid,
            "team_id": ws.team_id,
            "name": name,
            "real_name": name.title(),
            "is_bot": uid == ws.bot_user_id,
            "profile": {"display_name": name},
        },
    }


def conversations_info(emu: SlackEmulator, p: dict[str, Any]) -> Result:
    ws = emu.workspace
    cid = p.get("channel", "")
    name = ws.channels.get(cid)
    if name is None or ws.channel_error(cid) == "channel_not_found":
        return _err("channel_not_found")  # private channels are invisible to non-members
    private = cid in ws.private
    channel = {
        "id": cid,
        "name": name,
        "is_channel": not private,
        "is_group": False,
        "is_private": private,
        "is_member": ws.bot_is_member(cid),
        "is_archived": False,
    }
    return {"ok": True, "channel": channel}


_TYPES = {
    "pdf": "application/pdf",
    "md": "text/markdown",
    "txt": "text/plain",
    "html": "text/html",
    "png": "image/png",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
}


def _filetype(name: str) -> str:
    ext = name.rsplit(".", 1)[-1].lower() if "." in name else "binary"
    return {"md": "markdown", "txt": "text"}.get(ext, ext)


def _mimetype(name: str) -> str:
    ext = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    return _TYPES.get(ext, "application/octet-stream")


def apps_connections_open(emu: SlackEmulator, _p: dict[str, Any]) -> Result:
    """A single-use Socket Mode URL (the app-level token was checked by the caller)."""
    return {"ok": True, "url": emu.socket_mode.open_url()}


METHODS: dict[str, Method] = {
    "auth.test": auth_test,
    "apps.connections.open": apps_connections_open,
    "chat.postMessage": chat_post_message,
    "chat.update": chat_update,
    "chat.postEphemeral": chat_post_ephemeral,
    "reactions.add": lambda e, p: _reaction(e, p, True),
    "reactions.remove": lambda e, p: _reaction(e, p, False),
    "files.info": files_info,
    "files.getUploadURLExternal": get_upload_url,
    "files.completeUploadExternal": complete_upload,
    "users.info": users_info,
    "conversations.info": conversations_info,
}
