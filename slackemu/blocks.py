"""Block Kit and message-size validation with Slack's documented limits.

Slack refuses a message whose blocks break a limit with ``invalid_blocks`` (and
a pointer to the offending field in ``response_metadata.messages``), and one
whose text is too long with ``msg_too_long``; the message is then not posted at
all. The emulator does the same, so an answer that would vanish in Slack fails
a test here.
"""

from __future__ import annotations

from typing import Any

MAX_BLOCKS = 50  # per message (modals and Home tabs allow 100)
MAX_MESSAGE_TEXT = 40_000
SECTION_TEXT = 3_000
SECTION_FIELDS, FIELD_TEXT = 10, 2_000
HEADER_TEXT = 150
BUTTON_TEXT, BUTTON_VALUE, BUTTON_URL = 75, 2_000, 3_000
ACTION_ID, BLOCK_ID = 255, 255
CONTEXT_ELEMENTS, ACTIONS_ELEMENTS = 10, 25
IMAGE_ALT = 2_000

KNOWN_BLOCKS = frozenset({"section", "header", "context", "actions", "divider", "image", "rich_text", "input", "file"})


class InvalidBlocks(ValueError):
    def __init__(self, messages: list[str]) -> None:
        super().__init__("; ".join(messages))
        self.messages = messages


def validate_message(text: str | None, blocks: Any) -> dict[str, Any] | None:
    """None when Slack would accept the message, else Slack's error answer."""
    if text is not None and len(text) > MAX_MESSAGE_TEXT:
        return {"ok": False, "error": "msg_too_long"}
    if blocks is None:
        return None
    errors = check_blocks(blocks)
    if errors:
        return {"ok": False, "error": "invalid_blocks", "response_metadata": {"messages": errors}}
    return None


def check_blocks(blocks: Any) -> list[str]:
    if not isinstance(blocks, list):
        return ["[ERROR] must be an array [json-pointer:/blocks]"]
    errors: list[str] = []
    if len(blocks) > MAX_BLOCKS:
        errors.append(f"[ERROR] no more than {MAX_BLOCKS} items allowed [json-pointer:/blocks]")
    for i, block in enumerate(blocks):
        errors += _block(block, f"/blocks/{i}")
    return errors


def _too_long(value: Any, limit: int, where: str) -> list[str]:
    if not isinstance(value, str):
        return [f"[ERROR] must be a string [json-pointer:{where}]"]
    if len(value) > limit:
        return [f"[ERROR] must be less than {limit + 1} characters [json-pointer:{where}]"]
    return []


def _text(obj: Any, limit: int, where: str, plain_only: bool = False) -> list[str]:
    if not isinstance(obj, dict) or obj.get("type") not in ("plain_text", "mrkdwn"):
        return [f"[ERROR] must be a text object [json-pointer:{where}]"]
    if plain_only and obj["type"] != "plain_text":
        return [f"[ERROR] must be plain_text [json-pointer:{where}/type]"]
    errors = _too_long(obj.get("text"), limit, f"{where}/text")
    if not errors and not obj["text"]:
        errors.append(f"[ERROR] must be more than 0 characters [json-pointer:{where}/text]")
    return errors


def _block(block: Any, where: str) -> list[str]:
    if not isinstance(block, dict) or block.get("type") not in KNOWN_BLOCKS:
        return [f"[ERROR] unknown or missing block type [json-pointer:{where}/type]"]
    errors: list[str] = []
    if "block_id" in block:
        errors += _too_long(block["block_id"], BLOCK_ID, f"{where}/block_id")
    kind = block["type"]
    if kind == "section":
        if "text" not in block and "fields" not in block:
            errors.append(f"[ERROR] must provide text or fields [json-pointer:{where}]")
        if "text" in block:
            errors += _text(block["text"], SECTION_TEXT, f"{where}/text")
        fields = block.get("fields") or []
        if len(fields) > SECTION_FIELDS:
            errors.append(f"[ERROR] no more than {SECTION_FIELDS} items allowed [json-pointer:{where}/fields]")
        for j, f in enumerate(fields):
            errors += _text(f, FIELD_TEXT, f"{where}/fields/{j}")
        if "accessory" in block:
            errors += _element(block["accessory"], f"{where}/accessory")
    elif kind == "header":
        errors += _text(block.get("text"), HEADER_TEXT, f"{where}/text", plain_only=True)
    elif kind == "context":
        elements = block.get("elements") or []
        if not elements or len(elements) > CONTEXT_ELEMENTS:
            errors.append(f"[ERROR] must have 1 to {CONTEXT_ELEMENTS} items [json-pointer:{where}/elements]")
        for j, e in enumerate(elements):
            if isinstance(e, dict) and e.get("type") == "image":
                errors += _too_long(e.get("alt_text", ""), IMAGE_ALT, f"{where}/elements/{j}/alt_text")
            else:
                errors += _text(e, SECTION_TEXT, f"{where}/elements/{j}")
    elif kind == "actions":
        elements = block.get("elements") or []
        if not elements or len(elements) > ACTIONS_ELEMENTS:
            errors.append(f"[ERROR] must have 1 to {ACTIONS_ELEMENTS} items [json-pointer:{where}/elements]")
        for j, e in enumerate(elements):
            errors += _element(e, f"{where}/elements/{j}")
    elif kind == "image":
        errors += _too_long(block.get("alt_text", ""), IMAGE_ALT, f"{where}/alt_text")
    return errors


def _element(element: Any, where: str) -> list[str]:
    if not isinstance(element, dict):
        return [f"[ERROR] must be an object [json-pointer:{where}]"]
    errors: list[str] = []
    if "action_id" in element:
        errors += _too_long(element["action_id"], ACTION_ID, f"{where}/action_id")
    if element.get("type") == "button":
        errors += _text(element.get("text"), BUTTON_TEXT, f"{where}/text", plain_only=True)
        if "value" in element:
            errors += _too_long(element["value"], BUTTON_VALUE, f"{where}/value")
        if "url" in element:
            errors += _too_long(element["url"], BUTTON_URL, f"{where}/url")
    return errors
