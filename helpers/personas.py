"""Who answers: the one module that knows how each service frames the Realtime protocol.

Two wire dialects share one WebSocket protocol: ``"beta"`` (flat session, ``response.audio.delta``;
StepFun, and OpenAI before 2026) and ``"ga"`` (nested session, ``response.output_audio.delta``;
OpenAI today). Three personas speak them:

* ``stepfun``     -- StepFun's realtime API: beta names, StepFun's frame shapes, ids and defaults
  as printed in a real capture (September 2025, seed guide 000), its documented extensions.
* ``openai``      -- OpenAI GA: GA shapes, live defaults, the requested model echoed, OpenAI voices.
* ``openai-beta`` -- OpenAI's 2024 beta shape. OpenAI switched it off in 2026 (an ``OpenAI-Beta:
  realtime=v1`` header now gets ``beta_api_shape_disabled`` and close 4000); the replay server
  speaks it only on explicit request (``dialect=beta``), to replay old guides.

Everything else (event builders, the replay engine, the conversation state, the client, the
relay, the live session) asks this module: event names per dialect, session/item/response shapes
and their conversion, defaults, id formats, voices, limits, the model -> persona rule and the
rules in which the personas differ. Where StepFun's behaviour has no source, a persona keeps
OpenAI's beta behaviour and `STEPFUN_UNCONFIRMED` says so.
"""

from __future__ import annotations

import copy
import hashlib
import uuid
from dataclasses import dataclass
from typing import Any

DIALECTS = ("beta", "ga")

# -- the audio format and protocol limits (same for every persona) ----------------------------
SAMPLE_RATE = 24_000
BYTES_PER_MS = SAMPLE_RATE * 2 // 1000      # 48: pcm16 mono at 24 kHz
MIN_COMMIT_MS = 100                         # input_audio_buffer.commit needs at least this much
MAX_APPEND_BYTES = 15 * 1024 * 1024         # one input_audio_buffer.append event's base64 audio

# -- event names -------------------------------------------------------------------------------
BETA_TO_GA = {
    "response.text.delta": "response.output_text.delta",
    "response.text.done": "response.output_text.done",
    "response.audio.delta": "response.output_audio.delta",
    "response.audio.done": "response.output_audio.done",
    "response.audio_transcript.delta": "response.output_audio_transcript.delta",
    "response.audio_transcript.done": "response.output_audio_transcript.done",
    "conversation.item.created": "conversation.item.added",
}
GA_TO_BETA = {ga: beta for beta, ga in BETA_TO_GA.items()}

# Every client event type, with the fields the server requires.
CLIENT_EVENTS = {
    "session.update": ("session",),
    "input_audio_buffer.append": ("audio",),
    "input_audio_buffer.commit": (),
    "input_audio_buffer.clear": (),
    "conversation.item.create": ("item",),
    "conversation.item.retrieve": ("item_id",),
    "conversation.item.truncate": ("item_id", "content_index", "audio_end_ms"),
    "conversation.item.delete": ("item_id",),
    "response.create": (),
    "response.cancel": (),
}

# The "Supported values" list of the unknown-type error: GA's as captured live (protocol
# reference §4.2); beta's is the beta-era list with conversation.item.retrieve added.
SUPPORTED_CLIENT_EVENTS = {
    "ga": ("session.update", "session.close", "input_audio_buffer.append", "session.input_audio_buffer.append",
           "input_audio_buffer.commit", "input_audio_buffer.clear", "conversation.item.create",
           "conversation.item.truncate", "conversation.item.delete", "conversation.item.retrieve",
           "response.create", "response.cancel"),
    "beta": ("session.update", "input_audio_buffer.append", "input_audio_buffer.commit", "input_audio_buffer.clear",
             "conversation.item.create", "conversation.item.retrieve", "conversation.item.truncate",
             "conversation.item.delete", "response.create", "response.cancel"),
}

# -- voices ------------------------------------------------------------------------------------
OPENAI_BETA_VOICES = ("alloy", "ash", "ballad", "coral", "echo", "sage", "shimmer", "verse")
OPENAI_VOICES = OPENAI_BETA_VOICES + ("marin", "cedar")
STEPFUN_VOICES = (  # step-1o-audio (Step-Realtime-Console), then step-audio-2 (API reference)
    "jingdiannvsheng", "cixingnansheng", "zhengpaiqingnian", "yuanqinansheng", "qingniandaxuesheng",
    "boyinnansheng", "ruyananshi", "shenchennanyin", "qinqienvsheng", "wenrounvsheng", "jilingshaonv",
    "yuanqishaonv", "ruanmengnvsheng", "youyanvsheng", "lengyanyujie", "shuangkuaijiejie", "wenjingxuejie",
    "linjiajiejie", "linjiameimei", "zhixingjiejie", "qingchunshaonv", "wenrounansheng",
    "elegantgentle-female", "livelybreezy-female")
# A voice a client sends to each dialect's service (what the lessons use).
DEFAULT_VOICE = {"beta": "jingdiannvsheng", "ga": "marin"}

# -- shapes: part types, formats --------------------------------------------------------------
PART_TO_GA = {"text": "output_text", "audio": "output_audio"}
PART_TO_BETA = {ga: beta for beta, ga in PART_TO_GA.items()}
FORMAT_TO_GA: dict[str, dict[str, Any]] = {"pcm16": {"type": "audio/pcm", "rate": 24000}, "g711_ulaw": {"type": "audio/pcmu"},
                "g711_alaw": {"type": "audio/pcma"}}
FORMAT_TO_BETA = {"audio/pcm": "pcm16", "audio/pcmu": "g711_ulaw", "audio/pcma": "g711_alaw"}
ITEM_EVENTS = ("conversation.item.created", "conversation.item.added", "conversation.item.done",
               "conversation.item.retrieved", "response.output_item.added", "response.output_item.done")
# Deltas that carry OpenAI's random `obfuscation` string (captured on output_text and input
# transcription deltas; transcript and argument deltas are the same stream kind; audio deltas
# are not known to carry it).
OBFUSCATED_DELTAS = ("response.output_text.delta", "response.output_audio_transcript.delta",
                     "response.function_call_arguments.delta",
                     "conversation.item.input_audio_transcription.delta")


def check_dialect(dialect: str) -> str:
    """Return `dialect` if it is "beta" or "ga", else raise a ValueError saying so."""
    if dialect not in DIALECTS:
        raise ValueError(f"dialect must be 'beta' (StepFun) or 'ga' (OpenAI), not {dialect!r}")
    return dialect


def default_voice(dialect: str) -> str:
    """A voice the service of `dialect` accepts: StepFun's jingdiannvsheng, OpenAI's marin."""
    return DEFAULT_VOICE[check_dialect(dialect)]


def in_dialect(event_type: str, dialect: str) -> str:
    """The name `event_type` has in `dialect` (names the dialects share pass through)."""
    check_dialect(dialect)
    table = BETA_TO_GA if dialect == "ga" else GA_TO_BETA
    return table.get(event_type, event_type)


def aliases(event_type: str) -> frozenset[str]:
    """`event_type` with its name in the other dialect: what a dialect-blind wait matches."""
    return frozenset({event_type, BETA_TO_GA.get(event_type, event_type), GA_TO_BETA.get(event_type, event_type)})


# -- personas ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Persona:
    """How one service frames the protocol: dialect, defaults, id formats and its own rules."""

    name: str
    dialect: str
    provider: str
    server_voice: str                 # the voice of a session nobody configured
    voices: tuple[str, ...] | None    # the voices it accepts (None: any, e.g. cloned voice ids)
    uuid_ids: bool                    # bare UUIDs (StepFun) instead of event_/item_/resp_ prefixes
    rate_limits: bool                 # sends rate_limits.updated after each response
    obfuscation: bool                 # deltas carry an `obfuscation` string
    expires_at: bool                  # the session object says when it expires
    session_minutes: int              # longest session
    minimal_frames: bool              # StepFun's sparser session/response/item objects

    @property
    def temperature_range(self) -> tuple[float, float] | None:
        """The accepted `temperature` range (GA has no temperature at all)."""
        return None if self.dialect == "ga" else (0.6, 1.2)

    def new_id(self, kind: str, seed: str) -> str:
        """A deterministic id of `kind` ("event", "item", "resp", "sess", "call") made from `seed`."""
        digest = hashlib.sha256(f"{self.name}:{kind}:{seed}".encode()).digest()
        if self.uuid_ids:
            if kind == "sess":  # 32 lowercase hex, no hyphens, UUIDv7 layout as captured
                raw = bytearray(digest[:16])
                raw[6] = (raw[6] & 0x0F) | 0x70
                raw[8] = (raw[8] & 0x3F) | 0x80
                return raw.hex()
            return str(uuid.UUID(bytes=digest[:16], version=4))
        alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
        number = int.from_bytes(digest[:16], "big")
        chars = []
        for _ in range(21):
            number, rest = divmod(number, 62)
            chars.append(alphabet[rest])
        return f"{kind}_{''.join(chars)}"

    def obfuscation_for(self, event_id: str, delta: str) -> str:
        """The (deterministic here, random live) padding string OpenAI adds to a delta."""
        pad = max(0, 16 - len(delta)) or 2
        return hashlib.sha256(event_id.encode()).hexdigest()[:pad]

    def default_session(self, model: str, session_id: str, expires_at: int) -> dict:
        """The session object of ``session.created`` before any ``session.update``."""
        if self.name == "stepfun":
            # Exactly the keys of the captured session.created (seed 000).
            return {"id": session_id, "object": "realtime.session", "model": model,
                    "modalities": ["text", "audio"], "voice": self.server_voice,
                    "input_audio_format": "pcm16", "output_audio_format": "pcm16", "volume_ratio": 1}
        if self.dialect == "beta":  # OpenAI's 2024 beta, as in a December 2024 capture
            return {"id": session_id, "object": "realtime.session", "model": model, "expires_at": expires_at,
                    "modalities": ["text", "audio"], "instructions": "", "voice": self.server_voice,
                    "turn_detection": self.vad_defaults(), "input_audio_format": "pcm16",
                    "output_audio_format": "pcm16", "input_audio_transcription": None, "tool_choice": "auto",
                    "temperature": 0.8, "max_response_output_tokens": "inf", "tools": []}
        pcm = {"type": "audio/pcm", "rate": SAMPLE_RATE}
        # GA session.created as captured live in 2026 (protocol reference §2.3).
        return {"type": "realtime", "object": "realtime.session", "id": session_id, "model": model,
                "output_modalities": ["audio"], "instructions": "", "tools": [], "tool_choice": "auto",
                "max_output_tokens": "inf", "tracing": None, "truncation": "auto", "prompt": None,
                "expires_at": expires_at,
                "audio": {"input": {"format": dict(pcm), "transcription": None, "noise_reduction": None,
                                    "turn_detection": self.vad_defaults()},
                          "output": {"format": dict(pcm), "voice": self.server_voice, "speed": 1.0}},
                "include": None}

    def vad_defaults(self) -> dict:
        """Server VAD settings filled in when VAD is on (StepFun's documented ones, or OpenAI's)."""
        if self.name == "stepfun":
            return {"type": "server_vad", "prefix_padding_ms": 500, "silence_duration_ms": 100,
                    "energy_awakeness_threshold": 2500}
        vad = {"type": "server_vad", "threshold": 0.5, "prefix_padding_ms": 300, "silence_duration_ms": 200}
        if self.dialect == "ga":
            vad.update(idle_timeout_ms=None, create_response=True, interrupt_response=True)
        return vad

    def response_object(self, response_id: str, status: str, session: dict, *, output: list | None = None,
                        usage: dict | None = None, status_details: dict | None = None,
                        conversation_id: str | None = None) -> dict:
        """A response object as this service sends it, its voice and modalities from the session."""
        body: dict[str, Any] = {"id": response_id, "object": "realtime.response", "status": status}
        if self.minimal_frames:  # StepFun: {id, object, status, output} (+ usage when done)
            body["output"] = output or []
            if status not in ("in_progress", "completed"):
                body["status_details"] = status_details  # [UNCONFIRMED] for StepFun; OpenAI beta's field
            if status != "in_progress":
                body["usage"] = usage
            return body
        body.update(status_details=status_details, output=output or [], conversation_id=conversation_id)
        if self.dialect == "ga":
            out = (session.get("audio") or {}).get("output") or {}
            body.update(output_modalities=list(session.get("output_modalities") or ["audio"]),
                        max_output_tokens=session.get("max_output_tokens", "inf"),
                        audio={"output": {"format": copy.deepcopy(out.get("format")), "voice": out.get("voice")}})
        else:
            body.update(modalities=list(session.get("modalities") or ["text", "audio"]),
                        voice=session.get("voice"), output_audio_format=session.get("output_audio_format", "pcm16"),
                        temperature=session.get("temperature", 0.8),
                        max_output_tokens=session.get("max_response_output_tokens", "inf"))
        body.update(usage=usage, metadata=None)
        return body

    def shape_item(self, item: dict, *, announced: bool = False) -> dict:
        """An item as this service echoes it; `announced` for the in-progress copy of an output item.

        StepFun sends output items without `content` while in progress, user text parts as `text`
        with status ``in_progress``, and audio parts as ``{"type": "audio", "audio": "", ...}``.
        """
        item = convert_item(item, self.dialect)
        if not self.minimal_frames:
            return item
        item = {k: v for k, v in item.items() if k not in ("content",)} if announced else dict(item)
        if "content" in item and isinstance(item["content"], list):
            item["content"] = [self.shape_part(p) if isinstance(p, dict) else p for p in item["content"]]
        if item.get("role") == "user" and any(isinstance(p, dict) and p.get("type") == "text"
                                              for p in item.get("content") or []):
            item["status"] = "in_progress"
        item["object"] = item.pop("object", "realtime.item")  # StepFun prints `object` last
        return item

    def shape_part(self, part: dict) -> dict:
        """A content part as this service echoes it (StepFun: user `input_text` as `text`, audio with `audio: ""`)."""
        if not self.minimal_frames:
            return part
        if part.get("type") == "input_text":
            return {"type": "text", "text": part.get("text", "")}
        if part.get("type") == "audio":
            return {"type": "audio", "audio": "", "transcript": part.get("transcript", "")}
        return part


PERSONAS = {
    "stepfun": Persona("stepfun", "beta", "stepfun", "jingdiannvsheng", None, uuid_ids=True, rate_limits=False,
                       obfuscation=False, expires_at=False, session_minutes=30, minimal_frames=True),
    "openai": Persona("openai", "ga", "openai", "alloy", OPENAI_VOICES, uuid_ids=False, rate_limits=True,
                      obfuscation=True, expires_at=True, session_minutes=60, minimal_frames=False),
    "openai-beta": Persona("openai-beta", "beta", "openai", "alloy", OPENAI_BETA_VOICES, uuid_ids=False,
                           rate_limits=True, obfuscation=False, expires_at=True, session_minutes=30,
                           minimal_frames=False),
}

STEPFUN_MODEL_PREFIXES = ("step-", "stepaudio-")
OPENAI_MODEL_PREFIXES = ("gpt-",)

# The rules in which the personas differ (what the replay server enforces per persona).
RULES = {
    "session.update without session.type": {"openai": "missing_required_parameter", "stepfun": "accepted",
                                            "openai-beta": "accepted"},
    "voice outside the service's list": {"openai": "invalid_value", "openai-beta": "invalid_value",
                                         "stepfun": "accepted (cloned voice ids exist)"},
    "tools in Chat-Completions nesting": {"stepfun": "accepted (documented)", "openai": "unknown_parameter",
                                          "openai-beta": "unknown_parameter"},
    "turn_detection.energy_awakeness_threshold": {"stepfun": "accepted 0..5000", "openai": "unknown_parameter",
                                                  "openai-beta": "unknown_parameter"},
    "response.create with modalities": {"openai": "unknown_parameter", "stepfun": "accepted",
                                        "openai-beta": "accepted"},
    "temperature": {"openai": "unknown_parameter", "stepfun": "0.6..1.2", "openai-beta": "0.6..1.2"},
    "rate_limits.updated": {"openai": "after response.done, a tokens entry only", "stepfun": "never",
                            "openai-beta": "after response.done"},
    "ids": {"openai": "event_/item_/resp_/sess_ + 21 characters", "openai-beta": "same",
            "stepfun": "UUIDv4 for event/item/response, 32 hex for the session"},
    "OpenAI-Beta: realtime=v1 header": {"openai": "error beta_api_shape_disabled, close 4000",
                                        "stepfun": "ignored", "openai-beta": "required (legacy)"},
}

# StepFun behaviours with no source: the persona keeps OpenAI's beta behaviour for each.
STEPFUN_UNCONFIRMED = {
    "unknown fields in client events": "refused whole with unknown_parameter, as OpenAI beta",
    "wrong types and out-of-range values": "refused whole with OpenAI's codes",
    "turn_detection when the client never set it": "off (the captured session.created has no turn_detection key)",
    "modalities ['text']": "honoured: text events, no audio (the docs call modalities fixed)",
    "response.cancel reply": "response.done with status cancelled (docs mention response.cancelled)",
    "conversation.item.truncate / retrieve": "supported as OpenAI beta (not documented)",
    "OpenAI-Beta header": "ignored",
    "error codes and wording": "OpenAI's",
    "rate_limits.updated": "never sent (none in the capture)",
    "input transcription delta before committed": "not imitated: deltas follow the commit",
    "audio_transcript.done before the last audio deltas": "the cassette's order is kept",
    "response.create with a `session` key (the guide's opening-line tip)": "refused: unknown_parameter",
    "status_details of a cancelled response": "sent, as OpenAI beta (the capture shows completed ones only)",
    "input_audio_transcription model names": "any name accepted (StepFun documents none); the helpers send "
                                             "catalogue.DEFAULT_TRANSCRIPTION_MODELS['stepfun'] (step-asr)",
}

# What the replay server does with a session config the cassette did not record (all personas).
CONFIG_HONOURED = {
    "output modalities text only": "the recorded answer's transcript as text events; no audio events; "
                                   "usage without audio tokens (modelled)",
    "no tools (or tool_choice 'none')": "the response without its function calls: no function_call item, "
                                        "no argument events (output may be empty); strict mode reports it",
    "voice": "every response carries the session's voice",
    "audio asked, cassette recorded text": "the recorded text is sent; strict mode reports the contradiction",
}


def persona_for(model: str, *, dialect: str | None = None, beta_header: bool = False) -> Persona:
    """The persona a connection gets: `step-*`/`stepaudio-*` -> stepfun, `gpt-*` -> openai.

    `dialect="beta"` on an OpenAI model asks for the retired 2024 beta explicitly. `beta_header`
    alone does not: live OpenAI refuses it (see `beta_header_refused`). Raises ValueError for
    other models or dialects.
    """
    lowered = (model or "").lower()
    if dialect not in (None, "", "beta", "ga"):
        raise ValueError(f"Invalid value: '{dialect}'. Supported values are: 'beta' and 'ga'.")
    if lowered.startswith(STEPFUN_MODEL_PREFIXES):
        return PERSONAS["stepfun"]
    if lowered.startswith(OPENAI_MODEL_PREFIXES):
        return PERSONAS["openai-beta" if dialect == "beta" else "openai"]
    raise ValueError(f'Model "{model}" is not supported in realtime mode.')


def beta_header_refused(persona: Persona, beta_header: bool) -> bool:
    """True when live would refuse the connection: the beta header on an OpenAI GA connection."""
    return beta_header and persona.name == "openai"


def persona_of_dialect(dialect: str) -> Persona:
    """The persona a provider speaking `dialect` is: beta -> stepfun, ga -> openai."""
    return PERSONAS["stepfun" if check_dialect(dialect) == "beta" else "openai"]


# -- converting shapes between the dialects ------------------------------------------------------

def convert_item(item: dict, dialect: str) -> dict:
    """A copy of a conversation item with assistant content part types named for `dialect`."""
    table = PART_TO_GA if check_dialect(dialect) == "ga" else PART_TO_BETA
    item = dict(item)
    if isinstance(item.get("content"), list):
        item["content"] = [dict(part, type=table.get(str(part.get("type")), part.get("type")))
                           if isinstance(part, dict) else part for part in item["content"]]
    return item


def audio_format(value: Any, dialect: str) -> Any:
    """An audio format named for `dialect` ("pcm16" <-> {"type": "audio/pcm", "rate": 24000})."""
    if dialect == "ga" and isinstance(value, str):
        return dict(FORMAT_TO_GA.get(value, {"type": value}))
    if dialect == "beta" and isinstance(value, dict):
        return FORMAT_TO_BETA.get(str(value.get("type")), value.get("type"))
    return value


def convert_session(session: dict, dialect: str) -> dict:
    """A session object shaped for `dialect`: flat (beta) or nested (GA); unknown keys pass through."""
    is_ga_shape = "type" in session or "audio" in session or "output_modalities" in session
    if check_dialect(dialect) == "ga":
        return copy.deepcopy(session) if is_ga_shape else _session_to_ga(session)
    return _session_to_beta(session) if is_ga_shape else copy.deepcopy(session)


_FLAT_TO_NESTED = (("input_audio_transcription", "input", "transcription"),
                   ("input_audio_noise_reduction", "input", "noise_reduction"),
                   ("turn_detection", "input", "turn_detection"), ("voice", "output", "voice"),
                   ("speed", "output", "speed"))


def _session_to_ga(flat: dict) -> dict:
    flat = copy.deepcopy(flat)
    audio: dict[str, dict] = {"input": {}, "output": {}}
    if "input_audio_format" in flat:
        audio["input"]["format"] = audio_format(flat.pop("input_audio_format"), "ga")
    if "output_audio_format" in flat:
        audio["output"]["format"] = audio_format(flat.pop("output_audio_format"), "ga")
    for beta, side, ga in _FLAT_TO_NESTED:
        if beta in flat:
            audio[side][ga] = flat.pop(beta)
    flat.pop("temperature", None)  # GA has no temperature
    out: dict[str, Any] = {"type": "realtime"}
    for key, value in flat.items():
        if key == "modalities":
            out["output_modalities"] = ["audio"] if "audio" in (value or []) else ["text"]
        elif key == "max_response_output_tokens":
            out["max_output_tokens"] = value
        else:
            out[key] = value
    audio = {k: v for k, v in audio.items() if v}
    if audio:
        out["audio"] = audio
    return out


def _session_to_beta(nested: dict) -> dict:
    nested = copy.deepcopy(nested)
    nested.pop("type", None)
    audio = nested.pop("audio", None) or {}
    sides = {"input": audio.get("input") or {}, "output": audio.get("output") or {}}
    out: dict[str, Any] = {}
    for key, value in nested.items():
        if key == "output_modalities":
            out["modalities"] = ["text", "audio"] if "audio" in (value or []) else ["text"]
        elif key == "max_output_tokens":
            out["max_response_output_tokens"] = value
        else:
            out[key] = value
    if "format" in sides["input"]:
        out["input_audio_format"] = audio_format(sides["input"]["format"], "beta")
    if "format" in sides["output"]:
        out["output_audio_format"] = audio_format(sides["output"]["format"], "beta")
    for beta, side, ga in _FLAT_TO_NESTED:
        if ga in sides[side]:
            out[beta] = sides[side][ga]
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
    if out["type"] in ITEM_EVENTS and isinstance(out.get("item"), dict):
        out["item"] = convert_item(out["item"], dialect)
    if isinstance(out.get("response"), dict):
        out["response"] = convert_response(out["response"], dialect)
    if isinstance(out.get("session"), dict):
        out["session"] = convert_session(out["session"], dialect)
    return out
