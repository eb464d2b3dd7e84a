"""Builders for every client event of the Realtime API, in both wire dialects.

Two dialects share one WebSocket protocol: ``"beta"`` (StepFun) and ``"ga"`` (OpenAI today);
`helpers.personas` knows how they differ.

Every builder returns a plain ``dict``: exactly the JSON that goes on the wire, so a
lesson can print it. Nothing here touches a socket.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from .catalogue import default_transcription_model

# Dialect knowledge (names, limits, voices) lives in `helpers.personas`; re-exported for callers.
from .personas import (  # noqa: E402,F401
    BETA_TO_GA,
    BYTES_PER_MS,
    CLIENT_EVENTS,
    DEFAULT_VOICE,
    DIALECTS,
    GA_TO_BETA,
    MAX_APPEND_BYTES,
    MIN_COMMIT_MS,
    SAMPLE_RATE,
    aliases,
    check_dialect,
    default_voice,
    in_dialect,
)

# -- session ---------------------------------------------------------------------------

def default_transcription(dialect: str) -> dict:
    """The `transcription` of `session_config` with the catalogue's default model for `dialect`'s service.

    ``beta`` is StepFun's (no documented model name: unconfirmed, see `helpers.catalogue`), ``ga`` OpenAI's.
    """
    return {"model": default_transcription_model("stepfun" if check_dialect(dialect) == "beta" else "openai")}


def transcription_model(event: dict) -> str | None:
    """The input-transcription model a ``session.update`` (or ``transcription_session.update``) names, if any."""
    session = event.get("session")
    if event.get("type") not in ("session.update", "transcription_session.update") or not isinstance(session, dict):
        return None
    setting = session.get("input_audio_transcription")
    audio = session.get("audio")
    if setting is None and isinstance(audio, dict) and isinstance(audio.get("input"), dict):
        setting = audio["input"].get("transcription")
    model = setting.get("model") if isinstance(setting, dict) else None
    return model if isinstance(model, str) else None


def server_vad(*, threshold: float | None = None, prefix_padding_ms: int | None = None,
               silence_duration_ms: int | None = None, create_response: bool | None = None,
               interrupt_response: bool | None = None,
               energy_awakeness_threshold: int | None = None) -> dict:
    """A `turn_detection` object for server VAD; only the settings you pass are sent.

    `energy_awakeness_threshold` (0-5000) is StepFun's; `threshold` (0-1) is OpenAI's.
    """
    settings = {"threshold": threshold, "prefix_padding_ms": prefix_padding_ms,
                "silence_duration_ms": silence_duration_ms, "create_response": create_response,
                "interrupt_response": interrupt_response,
                "energy_awakeness_threshold": energy_awakeness_threshold}
    return {"type": "server_vad", **{k: v for k, v in settings.items() if v is not None}}


def function_tool(name: str, description: str, parameters: dict, *, nested: bool = False) -> dict:
    """Declare a function the model may call.

    OpenAI takes the flat shape; StepFun documents the Chat-Completions nesting
    (``{"type": "function", "function": {...}}``): pass ``nested=True`` for it.
    """
    spec = {"name": name, "description": description, "parameters": parameters}
    return {"type": "function", "function": spec} if nested else {"type": "function", **spec}


_UNSET: Any = object()


def session_config(dialect: str, *, instructions: str | None = None, voice: str | None = None,
                   output: str | None = None, audio_format: str | None = None,
                   turn_detection: dict | None = _UNSET, transcription: dict | None = _UNSET,
                   tools: list | None = None, tool_choice: str | None = None,
                   extra: dict | None = None) -> dict:
    """The `session` object of `session.update`, shaped for `dialect`.

    `output` is "audio" (speech plus its transcript) or "text". `audio_format` is "pcm16"
    (24 kHz mono little-endian). `turn_detection=None` turns server VAD off;
    leave it out to keep the server's setting. `extra` is merged in as given.
    """
    check_dialect(dialect)
    if output not in (None, "audio", "text"):
        raise ValueError(f"output must be 'audio' or 'text', not {output!r}")
    if audio_format not in (None, "pcm16"):
        raise ValueError(f"audio_format: only 'pcm16' (24 kHz mono) is supported here, not {audio_format!r}")
    session: dict[str, Any] = {}
    if dialect == "beta":
        if output is not None:
            session["modalities"] = ["text", "audio"] if output == "audio" else ["text"]
        if instructions is not None:
            session["instructions"] = instructions
        if voice is not None:
            session["voice"] = voice
        if audio_format is not None:
            session["input_audio_format"] = session["output_audio_format"] = audio_format
        if transcription is not _UNSET:
            session["input_audio_transcription"] = transcription
        if turn_detection is not _UNSET:
            session["turn_detection"] = turn_detection
    else:
        session["type"] = "realtime"
        if output is not None:
            session["output_modalities"] = [output]
        if instructions is not None:
            session["instructions"] = instructions
        audio_in: dict[str, Any] = {}
        audio_out: dict[str, Any] = {}
        if audio_format is not None:
            audio_in["format"] = {"type": "audio/pcm", "rate": 24000}
            audio_out["format"] = {"type": "audio/pcm", "rate": 24000}
        if transcription is not _UNSET:
            audio_in["transcription"] = transcription
        if turn_detection is not _UNSET:
            audio_in["turn_detection"] = turn_detection
        if voice is not None:
            audio_out["voice"] = voice
        audio = {k: v for k, v in (("input", audio_in), ("output", audio_out)) if v}
        if audio:
            session["audio"] = audio
    if tools is not None:
        session["tools"] = tools
    if tool_choice is not None:
        session["tool_choice"] = tool_choice
    session.update(extra or {})
    return session


def session_update(session: dict) -> dict:
    """`session.update`: change the session; the server answers with the full effective config."""
    return {"type": "session.update", "session": session}


# -- input audio buffer ----------------------------------------------------------------

def input_audio_append(audio: str | bytes) -> dict:
    """`input_audio_buffer.append`: add audio (pcm16 bytes or their base64) to the input buffer."""
    return {"type": "input_audio_buffer.append", "audio": _b64(audio)}


def input_audio_commit() -> dict:
    """`input_audio_buffer.commit`: turn the buffered audio (at least 100 ms) into a user item."""
    return {"type": "input_audio_buffer.commit"}


def input_audio_clear() -> dict:
    """`input_audio_buffer.clear`: drop the audio buffered so far."""
    return {"type": "input_audio_buffer.clear"}


# -- conversation items ----------------------------------------------------------------

def item_create(item: dict, previous_item_id: str | None = None) -> dict:
    """`conversation.item.create` for any item; `previous_item_id="root"` inserts at the start."""
    event: dict[str, Any] = {"type": "conversation.item.create", "item": item}
    if previous_item_id is not None:
        event["previous_item_id"] = previous_item_id
    return event


def user_text(text: str, previous_item_id: str | None = None) -> dict:
    """A user message with text content."""
    item = {"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}
    return item_create(item, previous_item_id)


def user_audio(audio: str | bytes, previous_item_id: str | None = None) -> dict:
    """A user message carrying a whole recording (pcm16 24 kHz bytes or base64) at once."""
    item = {"type": "message", "role": "user", "content": [{"type": "input_audio", "audio": _b64(audio)}]}
    return item_create(item, previous_item_id)


def assistant_text(text: str, dialect: str, previous_item_id: str | None = None) -> dict:
    """An assistant message with text content (to restore history); the part type follows `dialect`."""
    part_type = "text" if check_dialect(dialect) == "beta" else "output_text"
    item = {"type": "message", "role": "assistant", "content": [{"type": part_type, "text": text}]}
    return item_create(item, previous_item_id)


def system_text(text: str, previous_item_id: str | None = None) -> dict:
    """A system message with text content."""
    item = {"type": "message", "role": "system", "content": [{"type": "input_text", "text": text}]}
    return item_create(item, previous_item_id)


def function_output(call_id: str, output: Any) -> dict:
    """The result of a function call; `output` is sent as a JSON string."""
    text = output if isinstance(output, str) else json.dumps(output, ensure_ascii=False)
    return item_create({"type": "function_call_output", "call_id": call_id, "output": text})


def item_truncate(item_id: str, audio_end_ms: int, content_index: int = 0) -> dict:
    """`conversation.item.truncate`: cut an assistant item's audio (and transcript) at what was heard."""
    if audio_end_ms < 0:
        raise ValueError(f"audio_end_ms must be >= 0, not {audio_end_ms}")
    return {"type": "conversation.item.truncate", "item_id": item_id,
            "content_index": content_index, "audio_end_ms": int(audio_end_ms)}


def item_delete(item_id: str) -> dict:
    """`conversation.item.delete`: remove an item from the conversation."""
    return {"type": "conversation.item.delete", "item_id": item_id}


def item_retrieve(item_id: str) -> dict:
    """`conversation.item.retrieve`: ask for the server's copy of an item."""
    return {"type": "conversation.item.retrieve", "item_id": item_id}


# -- responses -------------------------------------------------------------------------

def response_create(**response: Any) -> dict:
    """`response.create`; keyword arguments become per-response overrides (e.g. instructions=...)."""
    event: dict[str, Any] = {"type": "response.create"}
    if response:
        event["response"] = response
    return event


def response_cancel(response_id: str | None = None) -> dict:
    """`response.cancel`: stop the active response (or the one named)."""
    event: dict[str, Any] = {"type": "response.cancel"}
    if response_id is not None:
        event["response_id"] = response_id
    return event


def _b64(audio: str | bytes | bytearray | memoryview) -> str:
    if isinstance(audio, str):
        return audio
    if isinstance(audio, (bytes, bytearray, memoryview)):
        return base64.b64encode(bytes(audio)).decode("ascii")
    raise TypeError(f"audio must be pcm16 bytes or a base64 str, not {type(audio).__name__}")


def missing_fields(event: dict) -> list[str]:
    """Required fields `event` lacks (empty for unknown types: the server judges those)."""
    return [name for name in CLIENT_EVENTS.get(str(event.get("type")), ()) if name not in event]

