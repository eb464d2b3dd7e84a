"""What a cassette says the model did, framed for one persona and one session config.

One cassette serves every persona: what the model said is data, how the service frames it is
the persona's (`helpers.personas`). For each recorded response run (a ``response.created`` up to
its ``response.done``, plus a ``rate_limits.updated`` right after) this module prepares, once per
(persona, output modality, tools declared):

* the run in the persona's dialect (event names, part types, GA ``conversation.item.done``);
* the persona's ids: OpenAI keeps the recorded ``event_``/``item_``/``resp_`` ids, StepFun gets
  bare UUIDs derived from cassette name and recorded id (deterministic run to run);
* the persona's frame shapes: StepFun output items without ``content`` while in progress, audio
  parts with ``audio: ""``, no ``rate_limits.updated``; OpenAI's ``obfuscation`` on deltas and a
  tokens-only ``rate_limits.updated``;
* the session config honoured: a text-only session gets the spoken answer's transcript as text
  events and no audio; a session that declares no tools gets the response without its function
  calls (whatever else the model said stays). Each such change is noted for strict reports.

Response objects (``response.created``/``done``) and item acks are built live from the session.
"""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from .. import cassette as cassettes
from ..personas import GA_TO_BETA, OBFUSCATED_DELTAS, Persona, check_dialect, convert_event, convert_item, in_dialect

LIVE_ACKS = {"conversation.item.created", "conversation.item.added", "conversation.item.done"}
_SAFE_NAME = re.compile(r"^(?:[A-Za-z0-9_\-]+/)?[A-Za-z0-9_.\-]{1,128}$")  # one optional subfolder: zh-CN/03_text_turn
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_ID_KINDS = {"event_id": "event", "response_id": "resp", "item_id": "item", "previous_item_id": "item"}


def dumps(event: dict) -> str:
    """Compact JSON text of a server event (lone surrogates a client sent are escaped)."""
    text = json.dumps(event, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    if not text.isascii() and _has_surrogate(text):  # isascii: a fast pass for the megabytes of an item or audio
        text = json.dumps(event, separators=(",", ":"), allow_nan=False)
    return text


def _has_surrogate(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # only a lone surrogate cannot be encoded
        return True
    return False


def _b64_size(text: str) -> int:
    return len(text) * 3 // 4 - text[-2:].count("=") if isinstance(text, str) else 0


@dataclass
class Step:
    """One recorded server frame ready to send: due `delay` s after its trigger."""

    delay: float
    kind: str   # beta name
    event: dict
    text: str | None  # pre-serialised JSON; None when built live
    audio_bytes: int = 0


@dataclass
class RecordedResponse:
    """One recorded response run, framed for one persona and session config."""

    steps: list[Step]
    line: int
    response_id: str
    status: str
    status_details: dict | None
    output: list
    usage: dict | None
    deltas: int
    has_audio: bool
    notes: list[str] = field(default_factory=list)


@dataclass
class _Run:
    line: int
    trigger_t: float
    frames: list[tuple[float, dict]]
    item_ids: set = field(default_factory=set)


def convert_run(events: list[dict], dialect: str) -> list[tuple[int, dict]]:
    """Convert one recorded response run to `dialect`: (index of the source event, converted event).

    Going to GA, each assistant item ack becomes ``conversation.item.added`` and a
    ``conversation.item.done`` is inserted just before its ``response.output_item.done`` (its
    index is that of the output_item.done). Going to beta, ``conversation.item.done`` is dropped.
    GA ``response.function_call_arguments.done`` gets the `name` it requires.
    """
    check_dialect(dialect)
    names: dict[str, str] = {}
    acked = {e.get("item", {}).get("id") for e in events
             if e.get("type") in ("conversation.item.created", "conversation.item.added")
             and isinstance(e.get("item"), dict)}
    has_item_done = any(e.get("type") == "conversation.item.done" for e in events)
    out: list[tuple[int, dict]] = []
    for index, event in enumerate(events):
        kind = event.get("type")
        item = event["item"] if isinstance(event.get("item"), dict) else {}
        if kind == "response.output_item.added" and item.get("name"):
            names[str(item.get("id"))] = item["name"]
        if kind == "conversation.item.done" and dialect == "beta":
            continue
        converted = convert_event(event, dialect)
        if dialect == "ga" and converted["type"] == "response.function_call_arguments.done":
            converted.setdefault("name", names.get(str(event.get("item_id")), ""))
        if (dialect == "ga" and kind == "response.output_item.done" and not has_item_done
                and item.get("id") in acked):
            done = {"type": "conversation.item.done", "event_id": f"{event.get('event_id', 'event')}_d",
                    "previous_item_id": None, "item": convert_item(item, "ga")}
            out.append((index, done))
        out.append((index, converted))
    return out


def is_user_audio(item: dict) -> bool:
    """True for a user message carrying audio (its transcription may follow)."""
    content = item.get("content")
    return item.get("role") == "user" and isinstance(content, list) and any(
        isinstance(part, dict) and part.get("type") == "input_audio" for part in content)


class _Framing:
    """Reframes the events of one run for a persona and a session config."""

    def __init__(self, persona: Persona, cassette_name: str, text_only: bool, tools: bool):
        self.persona, self.name, self.text_only, self.tools = persona, cassette_name, text_only, tools
        self.dropped_items: set[str] = set()
        self.notes: list[str] = []

    def new_id(self, old: str, kind: str) -> str:
        """A recorded id in the persona's format: kept when it already has it, else derived from it."""
        if not isinstance(old, str):
            return old
        fits = _UUID.fullmatch(old) if self.persona.uuid_ids else re.fullmatch(rf"{kind}_[A-Za-z0-9]+", old)
        return old if fits else self.persona.new_id(kind, f"{self.name}:{old}")

    def ids(self, event: dict) -> dict:
        event = dict(event)
        for key, kind in _ID_KINDS.items():
            if event.get(key) is not None:
                event[key] = self.new_id(event[key], kind)
        if isinstance(event.get("item"), dict):
            event["item"] = self.item_ids(event["item"])
        if isinstance(event.get("response"), dict):
            response = dict(event["response"], id=self.new_id(event["response"].get("id"), "resp"))
            if isinstance(response.get("output"), list):
                response["output"] = [self.item_ids(i) if isinstance(i, dict) else i for i in response["output"]]
            event["response"] = response
        return event

    def item_ids(self, item: dict) -> dict:
        return dict(item, id=self.new_id(item["id"], "item")) if "id" in item else dict(item)

    def text_part(self, part: dict) -> dict:
        """An audio content part as text (its transcript) for a text-only session."""
        if isinstance(part, dict) and part.get("type") in ("audio", "output_audio"):
            kind = "text" if part["type"] == "audio" else "output_text"
            return {"type": kind, "text": part.get("transcript") or ""}
        return part

    def item(self, item: dict) -> dict:
        if self.text_only and isinstance(item.get("content"), list):
            item = dict(item, content=[self.text_part(p) for p in item["content"]])
        return item

    def keep(self, event: dict) -> bool:
        """False for events of a function call the session cannot get (no tools declared)."""
        item = event["item"] if isinstance(event.get("item"), dict) else {}
        if not self.tools and item.get("type") == "function_call":
            if item.get("id") not in self.dropped_items:
                self.dropped_items.update((str(item.get("id")), self.new_id(str(item.get("id")), "item")))
                self.notes.append(f"function call {item.get('name')!r} left out: the session declares no tools")
            return False
        return event.get("item_id") not in self.dropped_items

    def event(self, event: dict) -> dict | None:
        """`event` (already in the persona's dialect) framed for the persona and config, or None to drop it."""
        kind = GA_TO_BETA.get(event["type"], event["type"])
        if kind == "rate_limits.updated":
            if not self.persona.rate_limits:
                return None
            if self.persona.dialect == "ga":  # live GA reports a tokens entry only
                event = dict(event, rate_limits=[r for r in event.get("rate_limits") or []
                                                 if isinstance(r, dict) and r.get("name") != "requests"])
        if not self.keep(event):
            return None
        if self.text_only:
            if kind in ("response.audio.delta", "response.audio.done"):
                return None
            if kind == "response.audio_transcript.delta":
                event = dict(event, type=in_dialect("response.text.delta", self.persona.dialect))
            elif kind == "response.audio_transcript.done":
                event = {k: v for k, v in event.items() if k != "transcript"} | {
                    "type": in_dialect("response.text.done", self.persona.dialect), "text": event.get("transcript", "")}
        event = self.ids(event)
        if isinstance(event.get("part"), dict):
            part = self.text_part(event["part"]) if self.text_only else event["part"]
            event["part"] = self.persona.shape_part(part)
        if kind in ("response.output_item.added", "response.output_item.done") and isinstance(event.get("item"), dict):
            event["item"] = self.persona.shape_item(self.item(event["item"]), announced=kind.endswith("added"))
        elif kind in LIVE_ACKS and isinstance(event.get("item"), dict):
            event["item"] = self.persona.shape_item(self.item(event["item"]), announced=kind != "conversation.item.done")
        elif isinstance(event.get("item"), dict):
            event["item"] = self.item(event["item"])
        if self.persona.obfuscation and event["type"] in OBFUSCATED_DELTAS:
            event["obfuscation"] = self.persona.obfuscation_for(str(event.get("event_id")), str(event.get("delta")))
        return event


class Recording:
    """What one cassette says the model did; framed per persona and session config on demand."""

    def __init__(self, cassette: cassettes.Cassette, path: str = ""):
        self.name = cassette.name
        self.path = path or self.name
        self.meta = cassette.meta
        self.dialect = cassette.dialect
        self.opening: list[dict] = []
        self._runs: list[_Run] = []
        self._transcriptions: list[list[tuple[float, dict]]] = []
        self._cache: dict[tuple, tuple[list[RecordedResponse], list[list[Step]]]] = {}
        self._extract(cassette)

    @property
    def provenance(self) -> dict:
        """How the cassette was made (``kind`` is "synthesized" or "recorded")."""
        value = self.meta.get("provenance")
        return dict(value) if isinstance(value, dict) else {"kind": "unknown"}

    def _extract(self, cassette: cassettes.Cassette) -> None:
        trigger_t: float | None = None
        current: _Run | None = None
        finished: _Run | None = None
        committed: list[tuple[str, float]] = []
        transcripts: dict[str, list[tuple[float, dict]]] = {}
        for line, frame in enumerate(cassette.frames, start=2):
            event = frame.event
            if not isinstance(event, dict):
                continue
            kind = str(event.get("type", ""))
            if frame.source == "client":
                finished = None
                if kind == "response.create":
                    trigger_t = frame.t
                continue
            if kind in ("session.created", "session.updated"):
                continue  # the session is the persona's and the client's, not the cassette's
            if kind == "conversation.created" and not self._runs:
                self.opening.append(event)
                continue
            if kind == "input_audio_buffer.committed":
                trigger_t = frame.t
                committed.append((str(event.get("item_id")), frame.t))
                continue
            if kind.startswith("conversation.item.input_audio_transcription."):
                transcripts.setdefault(str(event.get("item_id")), []).append((frame.t, event))
                continue
            if kind in ("conversation.item.created", "conversation.item.added") and current is None:
                item = event["item"] if isinstance(event.get("item"), dict) else {}
                if is_user_audio(item) and all(item.get("id") != done for done, _ in committed):
                    committed.append((str(item.get("id")), frame.t))  # a whole recording sent as an item
                continue
            if kind == "response.created":
                current = _Run(line, frame.t if trigger_t is None else trigger_t, [(frame.t, event)])
                self._runs.append(current)
                trigger_t = finished = None
                continue
            if current is not None:
                if self._belongs(kind, event, current):
                    current.frames.append((frame.t, event))
                if kind == "response.done":
                    finished, current = current, None
            elif finished is not None and kind == "rate_limits.updated":
                finished.frames.append((frame.t, event))
        for item_id, t in committed:
            self._transcriptions.append([(ft - t, ev) for ft, ev in transcripts.get(item_id, [])])

    @staticmethod
    def _belongs(kind: str, event: dict, run: _Run) -> bool:
        item = event["item"] if isinstance(event.get("item"), dict) else {}
        if kind == "response.output_item.added":
            run.item_ids.add(item.get("id"))
        if kind.startswith(("input_audio_buffer.", "session.", "transcription_session.")) or kind == "error":
            return False
        if kind.startswith("conversation.item."):
            return kind in LIVE_ACKS and item.get("id") in run.item_ids
        return True

    @property
    def response_count(self) -> int:
        """How many responses the cassette records."""
        return len(self._runs)

    def prepared(self, persona: Persona, *, text_only: bool = False,
                 tools: bool = True) -> tuple[list[RecordedResponse], list[list[Step]]]:
        """(responses, transcriptions) framed for `persona` and the config; computed once, then cached."""
        key = (persona.name, text_only, tools)
        if key not in self._cache:
            self._cache[key] = ([self._prepare_run(run, persona, text_only, tools) for run in self._runs],
                                [self._prepare_transcription(frames, persona) for frames in self._transcriptions])
        return self._cache[key]

    def _prepare_run(self, run: _Run, persona: Persona, text_only: bool, tools: bool) -> RecordedResponse:
        framing = _Framing(persona, self.name, text_only, tools)
        events = [ev for _, ev in run.frames]
        steps, usage, deltas, has_audio = [], None, 0, False
        created: dict = {}
        done: dict = {}
        for index, converted in convert_run(events, persona.dialect):
            has_audio |= GA_TO_BETA.get(converted["type"], converted["type"]) == "response.audio.delta"
            event = framing.event(converted)
            if event is None:
                continue
            t = run.frames[index][0]
            kind = GA_TO_BETA.get(event["type"], event["type"])
            audio = _b64_size(event.get("delta", "")) if kind == "response.audio.delta" else 0
            live = kind in LIVE_ACKS or kind in ("response.created", "response.done")
            steps.append(Step(max(0.0, t - run.trigger_t), kind, event, None if live else dumps(event), audio))
            deltas += kind.endswith(".delta")
            if kind == "response.created":
                created = event.get("response") or {}
            if kind == "response.done" and isinstance(event.get("response"), dict):
                done = event["response"]
                usage = done.get("usage")
        output = [framing.item(i) for i in done.get("output") or [] if isinstance(i, dict)
                  and i.get("id") not in framing.dropped_items]
        output = [persona.shape_item(i) for i in output]
        if text_only and has_audio:
            usage = _text_only_usage(usage)
        return RecordedResponse(steps, run.line, str(created.get("id", "")), str(done.get("status") or "completed"),
                                done.get("status_details"), output, usage, deltas, has_audio, framing.notes)

    def _prepare_transcription(self, frames: list[tuple[float, dict]], persona: Persona) -> list[Step]:
        framing = _Framing(persona, self.name, False, True)
        steps = []
        for delay, event in frames:
            framed = framing.event(convert_event(event, persona.dialect))
            if framed is not None:
                steps.append(Step(max(0.0, delay), framed["type"], framed, None))
        return steps


def _text_only_usage(usage: dict | None) -> dict | None:
    """Usage of a spoken answer delivered as text: no audio tokens (a modelled figure)."""
    if not isinstance(usage, dict) or not isinstance(usage.get("output_token_details"), dict):
        return usage
    usage = copy.deepcopy(usage)
    details = usage["output_token_details"]
    details["audio_tokens"] = 0
    usage["output_tokens"] = sum(v for v in details.values() if isinstance(v, int))
    if isinstance(usage.get("input_tokens"), int):
        usage["total_tokens"] = usage["input_tokens"] + usage["output_tokens"]
    return usage


class Library:
    """The cassettes in one folder, loaded on first use and cached until the file changes."""

    def __init__(self, folder: str | Path):
        self.folder = Path(folder)
        self._cache: dict[str, tuple[int, Recording]] = {}

    def names(self) -> list[str]:
        """The cassette names available: file stems, with their subfolder when they are in one."""
        paths = [*self.folder.glob("*.jsonl"), *self.folder.glob("*/*.jsonl")] if self.folder.is_dir() else []
        return sorted(p.relative_to(self.folder).with_suffix("").as_posix() for p in paths)

    def get(self, name: str) -> Recording | None:
        """The recording called `name`, or None when there is no such cassette."""
        if not _SAFE_NAME.match(name or ""):
            return None
        path = self.folder / f"{name}.jsonl"
        if not path.is_file():
            return None
        stamp = path.stat().st_mtime_ns
        cached = self._cache.get(name)
        if cached is None or cached[0] != stamp:
            cached = (stamp, Recording(cassettes.load(path), str(path)))
            self._cache[name] = cached
        return cached[1]
