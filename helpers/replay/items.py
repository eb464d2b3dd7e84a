"""The live conversation: items in order, their acks, and create / retrieve / delete / truncate."""

from __future__ import annotations

import copy
from collections import OrderedDict
from typing import Any

from ..personas import BYTES_PER_MS, convert_item
from .outbox import Outbox
from .recording import dumps
from .validation import ClientError, expect

ENCODED_FROM = 64 * 1024   # items whose JSON is longer are kept encoded ...
ENCODED_KEPT = 4           # ... at most this many per session, the most recently sent
_REQUIRED = {"message": ("role", "content"), "function_call": ("call_id", "name", "arguments"),
             "function_call_output": ("call_id", "output")}


class Conversation:
    """The items of one session (in the persona's dialect) and the assistant audio sent per item."""

    def __init__(self, outbox: Outbox):
        self.outbox = outbox
        self.items: list[dict] = []
        self.audio_sent: dict[str, int] = {}   # item id -> bytes of assistant audio sent (after truncation)
        self._encoded: OrderedDict[str, tuple[dict, str]] = OrderedDict()  # big items: (as stored, as sent)

    def find(self, item_id: Any, param: str = "item_id") -> int:
        """The index of the item called `item_id`, or `item_not_found`."""
        expect(item_id, str, param, "a string")
        for index, item in enumerate(self.items):
            if item.get("id") == item_id:
                return index
        # [UNCONFIRMED] code and wording: no real frame for an unknown item id was found.
        raise ClientError("item_not_found", f"Item with item_id '{item_id}' not found.", param)

    def previous_id(self, item_id: str | None) -> str | None:
        """The id of the item before `item_id` (None at the start or when absent)."""
        ids = [existing.get("id") for existing in self.items]
        position = ids.index(item_id) if item_id in ids else 0
        return ids[position - 1] if position else None

    def add(self, item: dict, previous: str | None, now: float) -> None:
        """Insert `item` after `previous` (None: at the end; "root": first) and acknowledge it."""
        if previous == "root":
            position = 0
        elif previous is None:
            position = len(self.items)
        else:
            position = self.find(previous, "previous_item_id") + 1
        self.items.insert(position, item)
        self.ack(item, self.items[position - 1]["id"] if position else None, now)

    def ack(self, item: dict, previous: str | None, now: float, *, done: bool = True) -> None:
        """`conversation.item.created` (beta) or `.added` + `.done` (GA) for `item`."""
        persona = self.outbox.persona
        shown = self.encoded(item)
        fields = {} if persona.minimal_frames and previous is None else {"previous_item_id": previous}
        self.outbox.send_encoded("conversation.item.created", now, "item", shown, **fields)
        if persona.dialect == "ga" and done:
            self.outbox.send_encoded("conversation.item.done", now, "item", shown, **fields)

    def encoded(self, item: dict) -> str:
        """`item` as the server shows it, in JSON; a big one is encoded once while it stays the same."""
        key = item.get("id")
        cached = self._encoded.get(key) if isinstance(key, str) else None
        if cached is not None and cached[0] == item:  # the strings are shared: equal at once
            self._encoded.move_to_end(item["id"])
            return cached[1]
        text = dumps(self.outbox.persona.shape_item(copy.deepcopy(item)))
        if isinstance(key, str) and len(text) > ENCODED_FROM:
            self._encoded[key] = (copy.deepcopy(item), text)
            if len(self._encoded) > ENCODED_KEPT:
                self._encoded.popitem(last=False)
        return text

    def remember(self, item: dict) -> None:
        """Add an output item the model produced (if new), or replace the stored copy."""
        for index, existing in enumerate(self.items):
            if existing.get("id") == item.get("id"):
                self.items[index] = copy.deepcopy(item)
                return
        self.items.append(copy.deepcopy(item))

    def create(self, event: dict, now: float) -> dict:
        """Handle `conversation.item.create`; returns the stored item."""
        item = dict(expect(event["item"], dict, "item", "an object"))
        previous = event.get("previous_item_id")
        if previous not in (None, "root"):
            self.find(previous, "previous_item_id")
        kind = item.get("type")
        if kind is None:
            raise ClientError("missing_required_parameter", "Missing required parameter: 'item.type'.", "item.type")
        expect(kind, str, "item.type", "a string")
        if kind not in _REQUIRED:
            raise ClientError("invalid_value", f"Invalid value: '{kind}'. Supported values are: 'message', "
                              "'function_call', and 'function_call_output'.", "item.type")
        for name in _REQUIRED[kind]:
            if name not in item:
                raise ClientError("missing_required_parameter", f"Missing required parameter: 'item.{name}'.",
                                  f"item.{name}")
        if kind == "message":
            expect(item["role"], str, "item.role", "a string")
            if item["role"] not in ("user", "assistant", "system"):
                raise ClientError("invalid_value", f"Invalid value: '{item['role']}'. Supported values are: 'user', "
                                  "'assistant', and 'system'.", "item.role")
            content = expect(item["content"], list, "item.content", "an array of objects")
            item["content"] = [_stored_part(_content_part(part, f"item.content[{i}]")) for i, part in enumerate(content)]
            if item["role"] == "assistant":  # history restored in the other dialect's part names
                item = convert_item(item, self.outbox.persona.dialect)
        if kind == "function_call_output":
            call_id = expect(item["call_id"], str, "item.call_id", "a string")
            if not any(i.get("type") == "function_call" and i.get("call_id") == call_id for i in self.items):
                # [UNCONFIRMED] wording (the Responses API's); the check itself is documented.
                raise ClientError("invalid_value", f"No tool call found for function call output with call_id "
                                  f"{call_id}.", "item.call_id")
        if "id" in item:
            expect(item["id"], str, "item.id", "a string")
            if any(existing.get("id") == item["id"] for existing in self.items):
                # [UNCONFIRMED] wording.
                raise ClientError("invalid_value", f"Item with id '{item['id']}' already exists.", "item.id")
        else:
            item["id"] = self.outbox.new_id("item")
        item.update(object="realtime.item", status=item.get("status") or "completed")
        self.add(item, previous, now)
        return item

    def retrieve(self, event: dict, now: float) -> None:
        """Handle `conversation.item.retrieve`."""
        item = self.items[self.find(event["item_id"])]
        self.outbox.send_encoded("conversation.item.retrieved", now, "item", self.encoded(item))

    def delete(self, event: dict, now: float) -> None:
        """Handle `conversation.item.delete`."""
        del self.items[self.find(event["item_id"])]
        self.audio_sent.pop(event["item_id"], None)
        self.outbox.send("conversation.item.deleted", now, item_id=event["item_id"])

    def truncate(self, event: dict, now: float) -> None:
        """Handle `conversation.item.truncate`: only assistant audio the model sent can be cut."""
        item = self.items[self.find(event["item_id"])]
        index = expect(event["content_index"], int, "content_index", "an integer")
        end_ms = expect(event["audio_end_ms"], int, "audio_end_ms", "an integer")
        content = item["content"] if isinstance(item.get("content"), list) else []
        part = content[index] if 0 <= index < len(content) and isinstance(content[index], dict) else {}
        if item.get("role") != "assistant" or part.get("type") not in ("audio", "output_audio") \
                or item["id"] not in self.audio_sent:
            # [UNCONFIRMED] code and wording.
            raise ClientError("invalid_value", f"Item '{item['id']}' has no model audio at content_index {index}: "
                              "only assistant audio can be truncated.", "content_index")
        if end_ms < 0:
            raise ClientError("integer_below_min_value", "Invalid 'audio_end_ms': integer below minimum value. "
                              f"Expected a value >= 0, but got {end_ms} instead.", "audio_end_ms")
        sent_ms = self.audio_sent[item["id"]] // BYTES_PER_MS
        if end_ms > sent_ms:
            raise ClientError("invalid_value", f"Audio content of {sent_ms}ms is already shorter than {end_ms}ms")
        self.audio_sent[item["id"]] = end_ms * BYTES_PER_MS
        part["transcript"] = ""  # the server drops text the user has not heard
        self.outbox.send("conversation.item.truncated", now, item_id=item["id"], content_index=index,
                         audio_end_ms=end_ms)

    def user_audio(self, item_id: str, now: float) -> None:
        """The item a commit makes of the buffered audio."""
        previous = self.items[-1]["id"] if self.items else None
        self.outbox.send("input_audio_buffer.committed", now, previous_item_id=previous, item_id=item_id)
        self.add({"id": item_id, "object": "realtime.item", "type": "message", "status": "completed", "role": "user",
                  "content": [{"type": "input_audio", "transcript": None}]}, previous, now)


def _content_part(part: Any, param: str) -> dict:
    """A content part checked for shape: an object with a string `type`."""
    expect(part, dict, param, "an object")
    if "type" not in part:
        raise ClientError("missing_required_parameter", f"Missing required parameter: '{param}.type'.", f"{param}.type")
    expect(part["type"], str, f"{param}.type", "a string")
    return part


def _stored_part(part: dict) -> dict:
    """A content part as the server keeps and echoes it: audio bytes are never echoed."""
    part = {k: v for k, v in part.items() if k != "audio"}
    if part.get("type") == "input_audio":
        part.setdefault("transcript", None)
    return part
