"""Show events in a notebook: readable JSON with audio payloads summarised."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

__all__ = ["collapse_runs", "show", "show_types", "summarise"]

_AUDIO_KEYS = {"audio", "delta"}
_LONG = 60


def summarise(event: Any) -> Any:
    """A copy of `event` with base64 audio (and other very long strings) shortened."""
    if isinstance(event, dict):
        audio_event = "audio" in str(event.get("type", "")) and "transcript" not in str(event.get("type", ""))
        out = {}
        for key, value in event.items():
            if isinstance(value, str) and len(value) > _LONG and (key == "audio" or (audio_event and key in _AUDIO_KEYS)):
                out[key] = f"<{len(value)} base64 chars>"
            else:
                out[key] = summarise(value)
        return out
    if isinstance(event, list):
        return [summarise(v) for v in event]
    return event


def show(event: dict, keys: Iterable[str] | None = None) -> None:
    """Print one event as indented JSON (only `keys`, if given), audio summarised."""
    shown = summarise(event)
    if keys is not None:
        shown = {k: shown[k] for k in keys if k in shown}
    print(json.dumps(shown, ensure_ascii=False, indent=2))


def show_types(events: Iterable[dict]) -> None:
    """Print the event types in order, collapsing runs: `response.audio.delta ×12`."""
    for line in collapse_runs([e.get("type", "?") for e in events]):
        print(line)


def collapse_runs(names: list[str]) -> list[str]:
    """Collapse runs of one name: ['a', 'b', 'b', 'b'] -> ['a', 'b ×3']."""
    out: list[str] = []
    count = 0
    for i, name in enumerate(names):
        count += 1
        if i + 1 == len(names) or names[i + 1] != name:
            out.append(name if count == 1 else f"{name} ×{count}")
            count = 0
    return out
