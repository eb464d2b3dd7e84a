"""Cassettes: recorded Realtime sessions as JSON Lines.

The format, in full (version 1):

* Line 1 is the metadata object::

    {"cassette": 1, "name": "03_text_turn", "provider": "stepfun", "dialect": "beta",
     "model": "step-1o-audio", "created": "2026-11-22T00:00:00Z",
     "provenance": {"kind": "synthesized" | "recorded", ...how it was made and how to re-record...},
     "description": "..."}

* Every further line is one frame, in the order it crossed the wire::

    {"t": 0.412, "from": "client", "event": {...}}          # a JSON frame the client sent
    {"t": 0.690, "from": "server", "event": {...}}          # a JSON frame the server sent
    {"t": 9.001, "from": "server", "close": {"code": 1000, "reason": ""}}   # the socket closed

  `t` is seconds since the connection opened, rounded to the millisecond. `event` is the
  frame exactly as sent, in the dialect named by the metadata, audio included.

Secrets are scrubbed on write: API keys (``sk-…``, ``Bearer …``, ``api_key=`` in URLs, and
any value under a key named like a credential) become ``<scrubbed>``. Writing the same
cassette twice gives byte-identical files.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

FORMAT_VERSION = 1
SCRUBBED = "<scrubbed>"

_SECRET_PATTERNS = [
    re.compile(r"\bsk-[A-Za-z0-9_\-]{8,}"),
    re.compile(r"(?i)\bbearer\s+[A-Za-z0-9_\-.=:/+]{8,}"),
    re.compile(r"(?i)((?:api[_-]?key|access[_-]?token|token|key)=)[^&\s\"']+"),
]
_SECRET_KEYS = re.compile(r"(?i)^(authorization|api[_-]?key|x-api-key|access[_-]?token|secret|password)$")


def scrub_text(text: str, secrets: tuple[str, ...] = ()) -> str:
    """`text` with key-like strings, and each of `secrets` verbatim, replaced by ``<scrubbed>``."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, SCRUBBED)
    for pattern in _SECRET_PATTERNS:
        text = pattern.sub(lambda m: (m.group(1) if m.groups() else "") + SCRUBBED, text)
    return text


def scrub(value: Any, secrets: tuple[str, ...] = ()) -> Any:
    """A copy of a JSON value with every secret scrubbed (see `scrub_text`)."""
    if isinstance(value, str):
        return scrub_text(value, secrets)
    if isinstance(value, list):
        return [scrub(v, secrets) for v in value]
    if isinstance(value, dict):
        return {k: (SCRUBBED if _SECRET_KEYS.match(str(k)) and isinstance(v, str) else scrub(v, secrets))
                for k, v in value.items()}
    return value


@dataclass(slots=True)
class Frame:
    """One recorded frame: `source` is "client" or "server"; `close` is set for a close."""

    t: float
    source: str
    event: dict | None = None
    close: dict | None = None

    def to_json(self) -> dict:
        out: dict[str, Any] = {"t": round(self.t, 3), "from": self.source}
        if self.close is not None:
            out["close"] = self.close
        else:
            out["event"] = self.event
        return out


@dataclass
class Cassette:
    """A whole recorded session: its metadata and its frames."""

    meta: dict
    frames: list[Frame] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.meta.get("name", "?")

    @property
    def dialect(self) -> str:
        return self.meta.get("dialect", "beta")

    def server_events(self) -> Iterator[tuple[int, Frame]]:
        """(line number, frame) for each server event frame; line 1 is the metadata."""
        for i, frame in enumerate(self.frames, start=2):
            if frame.source == "server" and frame.event is not None:
                yield i, frame


def _dumps(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


def validate_meta(meta: dict, where: str = "cassette") -> dict:
    """Check a metadata object; raise ValueError naming what is wrong."""
    if not isinstance(meta, dict) or meta.get("cassette") != FORMAT_VERSION:
        raise ValueError(f"{where}: line 1 must be metadata with \"cassette\": {FORMAT_VERSION}")
    for key in ("provider", "dialect", "model"):
        if not isinstance(meta.get(key), str):
            raise ValueError(f"{where}: metadata needs a string {key!r}")
    if meta["dialect"] not in ("beta", "ga"):
        raise ValueError(f"{where}: metadata dialect must be 'beta' or 'ga', not {meta['dialect']!r}")
    return meta


def parse(lines: list[str], where: str = "cassette") -> Cassette:
    """Parse cassette text lines; errors name the line."""
    rows = [(n, line) for n, line in enumerate(lines, start=1) if line.strip()]
    if not rows:
        raise ValueError(f"{where}: empty cassette")
    try:
        meta = json.loads(rows[0][1])
    except json.JSONDecodeError as exc:
        raise ValueError(f"{where}:{rows[0][0]}: metadata is not JSON ({exc})") from None
    cassette = Cassette(validate_meta(meta, where))
    for n, line in rows[1:]:
        try:
            row = json.loads(line)
            source = row["from"]
            if source not in ("client", "server"):
                raise ValueError(f"'from' must be 'client' or 'server', not {source!r}")
            frame = Frame(float(row["t"]), source, row.get("event"), row.get("close"))
            if (frame.event is None) == (frame.close is None):
                raise ValueError("a frame needs exactly one of 'event' or 'close'")
        except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"{where}:{n}: bad frame ({exc})") from None
        cassette.frames.append(frame)
    return cassette


def load(path: str | Path) -> Cassette:
    """Read a cassette file."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no cassette at {path}")
    cassette = parse(path.read_text(encoding="utf-8").splitlines(), where=str(path))
    cassette.meta.setdefault("name", path.stem)
    return cassette


def dumps(cassette: Cassette, secrets: tuple[str, ...] = ()) -> str:
    """The cassette as JSONL text, scrubbed."""
    lines = [_dumps(scrub(cassette.meta, secrets))]
    lines += [_dumps(scrub(frame.to_json(), secrets)) for frame in cassette.frames]
    return "\n".join(lines) + "\n"


def save(cassette: Cassette, path: str | Path, secrets: tuple[str, ...] = ()) -> Path:
    """Write a cassette file (scrubbed), creating its folder."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(dumps(cassette, secrets), encoding="utf-8")
    return path


class CassetteWriter:
    """Write a cassette frame by frame as a session runs, scrubbing each line.

    Lines are flushed as they are written, so a crashed kernel still leaves a usable file.
    """

    def __init__(self, path: str | Path, meta: dict, secrets: tuple[str, ...] = ()):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._secrets = tuple(s for s in secrets if s)
        self._file = self.path.open("w", encoding="utf-8")
        self._lock = threading.Lock()  # frames arrive from the socket thread and the caller
        self._write(validate_meta({"cassette": FORMAT_VERSION, **meta}, str(self.path)))

    def _write(self, obj: dict) -> None:
        line = _dumps(scrub(obj, self._secrets)) + "\n"
        with self._lock:
            if not self._file.closed:
                self._file.write(line)
                self._file.flush()

    def add(self, t: float, source: str, event: dict) -> None:
        """Record one JSON frame sent by `source` ("client" or "server") at `t` seconds."""
        self._write(Frame(t, source, event).to_json())

    def close(self, t: float | None = None, code: int | None = None, reason: str = "") -> None:
        """Record the socket's close (when `t` is given) and finish the file."""
        if self._file.closed:
            return
        if t is not None:
            self._write(Frame(t, "server", close={"code": code, "reason": reason}).to_json())
        with self._lock:
            self._file.close()
