"""Input limits: the one place that says how big, deep and long anything a client sends may be.

Pure functions, no I/O. The replay server checks every client frame with `check_frame` before
its engine sees it; each violation becomes a protocol ``error`` event (``invalid_request_error``) and the session goes on. A frame
above `MAX_FRAME_BYTES` is not read at all (WebSocket close 1009, "message too big").

The numbers are this project's own guard rails, chosen above anything the Realtime API accepts
from a real client (15 MiB audio per append, 32k-token contexts); OpenAI's own limits on
nesting, numbers and names are not published (unconfirmed). Codes are the documented
``invalid_event`` (nesting, as the engine's own check), ``invalid_json`` (NaN and other
non-JSON constants, too many values) and ``invalid_value`` (a value, with its ``param``); the
"string too long" wording follows OpenAI's REST API errors. Ranges of particular fields (a VAD
threshold, max_output_tokens) are the engine's, answered with the live codes.
"""

from __future__ import annotations

import json
import math
import mmap
from typing import Any, NamedTuple

MAX_FRAME_BYTES = 16 * 1024 * 1024   # one frame: the largest a client needs is a 15 MiB append; larger ones close 1009
MAX_DEPTH = 64                       # nested objects/arrays; tool JSON schemas need a few dozen at most
MAX_VALUES = 100_000                 # JSON values in one frame
MAX_INT_DIGITS = 1000                # digits of one integer (Python refuses above 4300); ranges per field are the engine's
MAX_NAME_CHARS = 256                 # object keys and identifier-like fields (NAME_FIELDS)
MAX_STRING_CHARS = 1024 * 1024       # any other string (instructions, text, arguments, outputs)

NAME_FIELDS = frozenset({"type", "event_id", "id", "item_id", "previous_item_id", "call_id", "response_id",
                         "name", "role", "status", "voice", "model", "object"})
BULK_FIELDS = frozenset({"audio", "image_url"})   # base64 payloads: bounded by the frame alone

_SET_ASIDE_FROM = 64 * 1024   # frames this large have their bulk strings set aside before the parse
_QUOTES_SCANNED = 64          # strings looked at for one too long to need parsing (frames above MAX_STRING_CHARS)
_STAND_IN_VALUE = "\u0000set aside\u0000"        # in place of the too long string, for the parse ...
_STAND_IN = json.dumps(_STAND_IN_VALUE)[1:-1]     # ... as JSON text between its quotes
_MARKER_WINDOW = 1024
_BULK_MARKERS = tuple(f'"{field}"{colon}"' for field in sorted(BULK_FIELDS) for colon in (":", ": "))
_BULK_MARKER_BYTES = tuple(marker.encode() for marker in _BULK_MARKERS)


# A client frame as text, or as the UTF-8 bytes of a large one (`helpers.replay.stepwise.LargeText`).
FrameText = str | bytes | bytearray | mmap.mmap


class Violation(NamedTuple):
    """One limit a client frame broke: becomes an ``error`` event with these fields."""

    code: str
    message: str
    param: str | None = None
    event_id: str | None = None


class _Rejected(NamedTuple):
    """A number the JSON decoder met that no limit admits; reported with its place by `_walk`."""

    kind: str   # "integer" (too many digits), "number" (not finite) or "constant" (NaN, Infinity: not JSON)
    what: str


def check_frame(message: str | bytes) -> Violation | None:
    """The first limit `message` breaks, or None. Frames that are not JSON pass: the engine answers those.

    The frame size itself is enforced as the frame arrives (`MAX_FRAME_BYTES`, the WebSocket
    close 1009): a frame the server refuses to hold in memory cannot be read to be answered.
    """
    if not isinstance(message, str):
        return None
    bulk = bulk_span(message) if len(message) > _SET_ASIDE_FROM else None
    if bulk is not None:
        message = message[:bulk[0]] + message[bulk[1]:]
    if message.count(",") >= MAX_VALUES and _more_values_than(message, MAX_VALUES):
        return _too_many_values()  # found before the checked parse: one of so many values takes long
    long = _long_string(message) if len(message) > MAX_STRING_CHARS else None
    if long is not None:  # parse the frame without it: a string too long needs no parse to be refused
        message = message[:long[0]] + _STAND_IN + message[long[1]:]
    try:
        value = json.loads(message, parse_int=_parse_int, parse_float=_parse_float, parse_constant=_parse_constant)
    except RecursionError:
        return Violation("invalid_event", f"Invalid event: nested more than {MAX_DEPTH} levels deep.")
    except ValueError:
        return None
    event_id = value.get("event_id") if isinstance(value, dict) else None
    if not isinstance(event_id, str) or len(event_id) > MAX_NAME_CHARS:
        event_id = None
    problem = _walk(value, long[1] - long[0] if long is not None else None)
    return problem._replace(event_id=event_id) if problem is not None else None


def bulk_span(text: FrameText) -> tuple[int, int] | None:
    """Where a plain bulk value (no escapes) that starts in the first KB of `text` lies, found without parsing.

    Bulk values are bounded by the frame alone, so the check need not parse megabytes of base64
    (an append names its audio near the start), and the server can hand an append's audio to the
    engine in steps (`helpers.replay.engine.Session.receive_steps`). Anything else is parsed whole.
    `text` may be the frame's UTF-8 bytes: the offsets are then byte offsets.
    """
    binary = not isinstance(text, str)
    markers, quote, backslash, before = (_BULK_MARKER_BYTES, b'"', b"\\", b"{, \t\r\n") if binary else \
        (_BULK_MARKERS, '"', "\\", "{, \t\r\n")
    for marker in markers:
        at = text.find(marker, 0, _MARKER_WINDOW)  # type: ignore[arg-type]  # str with str, bytes with bytes
        if at > 0 and text[at - 1:at] in before:  # type: ignore[operator]
            opened = at + len(marker)
            closed = text.find(quote, opened)  # type: ignore[arg-type]
            if closed > 0 and text.find(backslash, opened, closed) < 0:  # type: ignore[arg-type]
                return opened, closed
    return None


def _parse_int(digits: str) -> int | _Rejected:
    count = len(digits.lstrip("-"))
    return int(digits) if count <= MAX_INT_DIGITS else _Rejected("integer", f"an integer of {count} digits")


def _parse_float(text: str) -> float | _Rejected:
    number = float(text)
    return number if math.isfinite(number) else _Rejected("number", f"{text[:32]!r}, which is not finite")


def _parse_constant(name: str) -> _Rejected:
    return _Rejected("constant", name)


def _long_string(text: str) -> tuple[int, int] | None:
    """Where the first string of `text` longer than `MAX_STRING_CHARS` (with no escapes) lies, found by its
    quotes without parsing; None when there is none among the first `_QUOTES_SCANNED`, or it has escapes."""
    at = 0
    for _ in range(_QUOTES_SCANNED):
        opened = text.find('"', at) + 1
        closed = text.find('"', opened) if opened else -1
        while closed > 0 and _escaped(text, closed):
            closed = text.find('"', closed + 1)
        if closed < 0:
            return None
        if closed - opened > MAX_STRING_CHARS:
            is_key = text[closed + 1:closed + 64].lstrip(" \t\r\n")[:1] == ":"
            return (opened, closed) if not is_key and text.find("\\", opened, closed) < 0 else None
        at = closed + 1
    return None


def _more_values_than(text: str, limit: int) -> bool:
    """Whether `text` (JSON) holds more than `limit` values: a plain parse (C, no hooks), then only the
    containers' lengths are added up, stopping as soon as the count passes `limit`."""
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        return False  # the checked parse will say what is wrong
    count, stack = 1, [value]
    while stack:
        node = stack.pop()
        items = node.values() if isinstance(node, dict) else node
        count += len(node)
        if count > limit:
            return True
        stack.extend(item for item in items if isinstance(item, (dict, list)))
    return False


def _too_many_values() -> Violation:
    return Violation("invalid_json", f"Invalid event: more than {MAX_VALUES} JSON values in one frame.")


def _escaped(text: str, quote: int) -> bool:
    """Whether the quote at `quote` is escaped: an odd run of backslashes before it."""
    run = 0
    while quote - run > 0 and text[quote - run - 1] == "\\":
        run += 1
    return run % 2 == 1


def _walk(value: Any, stand_in_length: int | None = None) -> Violation | None:
    """Check depth, value count, numbers, keys and string lengths, iteratively (no recursion).

    A string `check_frame` set aside stands as `_STAND_IN`, checked as `stand_in_length` characters.
    """
    stack: list[tuple[Any, tuple, str | None]] = [(value, (), None)]
    seen = 0
    while stack:
        node, path, field = stack.pop()
        seen += 1
        if seen > MAX_VALUES:
            return _too_many_values()
        if len(path) >= MAX_DEPTH and isinstance(node, (dict, list)):   # the event itself is level 1
            return Violation("invalid_event", f"Invalid event: nested more than {MAX_DEPTH} levels deep.",
                             _param(path[:1]))
        if isinstance(node, dict):
            for key, item in node.items():
                if len(key) > MAX_NAME_CHARS:
                    return Violation("invalid_value", f"Invalid event: a key of {len(key)} characters; "
                                     f"keys have at most {MAX_NAME_CHARS}.", _param(path))
                stack.append((item, path + (key,), key))
        elif isinstance(node, list):
            stack.extend((item, path + (index,), field) for index, item in enumerate(node))
        elif isinstance(node, str):
            length = stand_in_length if node == _STAND_IN_VALUE and stand_in_length is not None else len(node)
            limit = None if field in BULK_FIELDS else MAX_NAME_CHARS if field in NAME_FIELDS else MAX_STRING_CHARS
            if limit is not None and length > limit:
                return Violation("invalid_value", f"Invalid '{_param(path)}': string too long. Expected a "
                                 f"string with maximum length {limit}, but got a string with length {length} "
                                 "instead.", _param(path))
        elif isinstance(node, _Rejected):
            if node.kind == "constant":
                return Violation("invalid_json", f"Invalid event: {node.what} is not a JSON value (at "
                                 f"'{_param(path)}').", _param(path))
            bound = f"integers have at most {MAX_INT_DIGITS} digits" if node.kind == "integer" else \
                "numbers must be finite"
            return Violation("invalid_value", f"Invalid '{_param(path)}': got {node.what}; {bound}.", _param(path))
    return None


def _param(path: tuple) -> str:
    """``session.tools[0].name`` for the path ("session", "tools", 0, "name"); the event itself is ``event``."""
    text = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in path).lstrip(".")
    return text or "event"
