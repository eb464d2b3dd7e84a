"""Convert recorded server events between the two wire dialects (beta <-> GA).

One cassette serves both dialects: it is recorded in one, and the replay server converts each
recorded response run to the dialect of the connection, once per cassette and dialect.

What changes between the dialects (see ``helpers.events`` and the protocol reference):

* event names (``response.audio.delta`` <-> ``response.output_audio.delta`` ...);
* the assistant item ack inside a response: beta ``conversation.item.created`` <-> GA
  ``conversation.item.added``, plus GA ``conversation.item.done`` sent just BEFORE
  ``response.output_item.done`` (beta has no such event, so it is dropped going to beta);
* assistant content part types inside items: ``text``/``audio`` <-> ``output_text``/``output_audio``
  (the ``part`` of ``response.content_part.*`` keeps ``text``/``audio`` in both);
* response objects: ``modalities``/``voice``/``output_audio_format`` <-> ``output_modalities``/``audio.output``;
* session objects: flat <-> nested (``type``, ``audio.input``/``audio.output``);
* GA ``response.function_call_arguments.done`` requires ``name`` (filled in from the item).
"""

from __future__ import annotations

import copy

from ..events import check_dialect, in_dialect

_PART_TO_GA = {"text": "output_text", "audio": "output_audio"}
_PART_TO_BETA = {ga: beta for beta, ga in _PART_TO_GA.items()}
_FORMAT_TO_GA = {"pcm16": {"type": "audio/pcm", "rate": 24000}, "g711_ulaw": {"type": "audio/pcmu"},
                 "g711_alaw": {"type": "audio/pcma"}}
_FORMAT_TO_BETA = {"audio/pcm": "pcm16", "audio/pcmu": "g711_ulaw", "audio/pcma": "g711_alaw"}
_ITEM_EVENTS = ("conversation.item.created", "conversation.item.added", "conversation.item.done",
                "conversation.item.retrieved", "response.output_item.added", "response.output_item.done")


def convert_item(item: dict, dialect: str) -> dict:
    """A copy of a conversation item with assistant content part types named for `dialect`."""
    table = _PART_TO_GA if check_dialect(dialect) == "ga" else _PART_TO_BETA
    item = dict(item)
    if isinstance(item.get("content"), list):
        item["content"] = [dict(part, type=table.get(part.get("type"), part.get("type")))
                           if isinstance(part, dict) else part for part in item["content"]]
    return item


def audio_format(value, dialect: str):
    """An audio format named for `dialect` ("pcm16" <-> {"type": "audio/pcm", "rate": 24000})."""
    if dialect == "ga" and isinstance(value, str):
        return dict(_FORMAT_TO_GA.get(value, {"type": value}))
    if dialect == "beta" and isinstance(value, dict):
        return _FORMAT_TO_BETA.get(value.get("type"), value.get("type"))
    return value


def convert_session(session: dict, dialect: str) -> dict:
    """A session object shaped for `dialect`: flat (beta) or nested (GA); unknown keys pass through."""
    is_ga_shape = "type" in session or "audio" in session or "output_modalities" in session
    if check_dialect(dialect) == "ga":
        return copy.deepcopy(session) if is_ga_shape else _session_to_ga(session)
    return _session_to_beta(session) if is_ga_shape else copy.deepcopy(session)


def _session_to_ga(flat: dict) -> dict:
    flat = copy.deepcopy(flat)
    audio_in, audio_out = {}, {}
    if "input_audio_format" in flat:
        audio_in["format"] = audio_format(flat.pop("input_audio_format"), "ga")
    if "input_audio_transcription" in flat:
        audio_in["transcription"] = flat.pop("input_audio_transcription")
    if "input_audio_noise_reduction" in flat:
        audio_in["noise_reduction"] = flat.pop("input_audio_noise_reduction")
    if "turn_detection" in flat:
        audio_in["turn_detection"] = flat.pop("turn_detection")
    if "output_audio_format" in flat:
        audio_out["format"] = audio_format(flat.pop("output_audio_format"), "ga")
    if "voice" in flat:
        audio_out["voice"] = flat.pop("voice")
    if "speed" in flat:
        audio_out["speed"] = flat.pop("speed")
    flat.pop("temperature", None)  # GA has no temperature
    out = {"type": "realtime"}
    for key, value in flat.items():
        if key == "modalities":
            out["output_modalities"] = ["audio"] if "audio" in (value or []) else ["text"]
        elif key == "max_response_output_tokens":
            out["max_output_tokens"] = value
        else:
            out[key] = value
    audio = {k: v for k, v in (("input", audio_in), ("output", audio_out)) if v}
    if audio:
        out["audio"] = audio
    return out


def _session_to_beta(nested: dict) -> dict:
    nested = copy.deepcopy(nested)
    nested.pop("type", None)
    audio = nested.pop("audio", None) or {}
    audio_in, audio_out = audio.get("input") or {}, audio.get("output") or {}
    out = {}
    for key, value in nested.items():
        if key == "output_modalities":
            out["modalities"] = ["text", "audio"] if "audio" in (value or []) else ["text"]
        elif key == "max_output_tokens":
            out["max_response_output_tokens"] = value
        else:
            out[key] = value
    if "voice" in audio_out:
        out["voice"] = audio_out["voice"]
    if "speed" in audio_out:
        out["speed"] = audio_out["speed"]
    if "format" in audio_in:
        out["input_audio_format"] = audio_format(audio_in["format"], "beta")
    if "format" in audio_out:
        out["output_audio_format"] = audio_format(audio_out["format"], "beta")
    if "transcription" in audio_in:
        out["input_audio_transcription"] = audio_in["transcription"]
    if "noise_reduction" in audio_in:
        out["input_audio_noise_reduction"] = audio_in["noise_reduction"]
    if "turn_detection" in audio_in:
        out["turn_detection"] = audio_in["turn_detection"]
    return out


def convert_response(response: dict, dialect: str) -> dict:
    """A response object shaped for `dialect`, its output items included."""
    response = dict(response)
    if isinstance(response.get("output"), list):
        response["output"] = [convert_item(i, dialect) if isinstance(i, dict) else i for i in response["output"]]
    if check_dialect(dialect) == "ga":
        if "modalities" in response:
            response["output_modalities"] = ["audio"] if "audio" in (response.pop("modalities") or []) else ["text"]
        output = {}
        if "output_audio_format" in response:
            output["format"] = audio_format(response.pop("output_audio_format"), "ga")
        if "voice" in response:
            output["voice"] = response.pop("voice")
        response.pop("temperature", None)
        if output:
            response["audio"] = {"output": output}
    else:
        if "output_modalities" in response:
            response["modalities"] = ["text", "audio"] if "audio" in (response.pop("output_modalities") or []) else ["text"]
        output = (response.pop("audio", None) or {}).get("output") or {}
        if "format" in output:
            response["output_audio_format"] = audio_format(output["format"], "beta")
        if "voice" in output:
            response["voice"] = output["voice"]
    return response


def convert_event(event: dict, dialect: str) -> dict:
    """One server event renamed and reshaped for `dialect` (its payload objects included)."""
    out = dict(event)
    out["type"] = in_dialect(event.get("type", ""), dialect)
    if out["type"] in _ITEM_EVENTS and isinstance(out.get("item"), dict):
        out["item"] = convert_item(out["item"], dialect)
    if isinstance(out.get("response"), dict):
        out["response"] = convert_response(out["response"], dialect)
    if isinstance(out.get("session"), dict):
        out["session"] = convert_session(out["session"], dialect)
    return out


def convert_run(events: list[dict], dialect: str) -> list[tuple[int, dict]]:
    """Convert one recorded response run to `dialect`: (index of the source event, converted event).

    Going to GA, each assistant item ack becomes ``conversation.item.added`` and a
    ``conversation.item.done`` is inserted just before its ``response.output_item.done`` (its
    index is that of the output_item.done). Going to beta, ``conversation.item.done`` is dropped.
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
        item = event.get("item") if isinstance(event.get("item"), dict) else {}
        if kind == "response.output_item.added" and item.get("name"):
            names[item.get("id")] = item["name"]
        if kind == "conversation.item.done" and dialect == "beta":
            continue
        converted = convert_event(event, dialect)
        if dialect == "ga" and converted["type"] == "response.function_call_arguments.done":
            converted.setdefault("name", names.get(event.get("item_id"), ""))
        if (dialect == "ga" and kind == "response.output_item.done" and not has_item_done
                and item.get("id") in acked):
            done = {"type": "conversation.item.done", "event_id": f"{event.get('event_id', 'event')}_d",
                    "previous_item_id": None, "item": convert_item(item, "ga")}
            out.append((index, done))
        out.append((index, converted))
    return out
