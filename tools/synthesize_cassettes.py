"""Build every shipped cassette (media/cassettes/NAME.jsonl) from the turn scripts in tools/scenarios*.py
(tools/scenarios_2026.py through tools/synthesize_2026.py).

    python tools/synthesize_cassettes.py [--out DIR] [--only NAME ...]

A cassette is a full session as a real client would have recorded it from StepFun (beta dialect):
both directions, every frame, in the orderings of the protocol reference §3. The assistant
speaks with espeak-ng (24 kHz mono pcm16, via soxr); user audio is the committed media/*.wav.
Regenerating gives byte-identical files: ids are hashes of the scenario name and a counter,
timings come from a random generator seeded with the scenario name, `created` is fixed.

Timing model: `response.created` ~250 ms after the trigger (`response.create`, or the VAD
commit); first delta ~430 ms after it; transcript/text deltas are token-sized (a few
characters) every 25-45 ms; audio deltas carry 240-360 ms of audio each and are generated
`SPEEDUP` times faster than real time, so transcript deltas come several times more often.
Server VAD (for the recorded `speech_started`/`speech_stopped` only; the replay server
recomputes VAD live): 20 ms frames, speech when RMS > 0.04 * energy_awakeness_threshold / 2500.

Token model (`usage`): text tokens = CJK characters + ceil(other characters / 4);
audio tokens = ceil(seconds * 10) for user audio, ceil(seconds * 20) for assistant audio.
A response's input is the instructions, the tools (as JSON) and every conversation item
(truncated audio counts up to the cut, its transcript not at all); cached input is the
previous response's input rounded down to a multiple of 64.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import math
import random
import re
import sys
from calendar import timegm
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from time import strptime

import numpy as np
import soundfile as sf
import soxr

TOOLS_DIR = Path(__file__).resolve().parent
ROOT = TOOLS_DIR.parent
sys.path[:0] = [str(ROOT), str(TOOLS_DIR)]

from helpers import events  # noqa: E402
from helpers.cassette import FORMAT_VERSION, Cassette, Frame, save  # noqa: E402
from make_media import MEDIA, MEDIA_DIR, espeak_version, speak  # noqa: E402
import scenarios_lessons  # noqa: E402
from scenarios import (SCENARIOS, Call, Respond, Restore, ReturnResult, Say, Scenario,  # noqa: E402
                       SendAudio, SendAudioItem, Speak, Truncate, Update)
from scenarios_zh import SCENARIOS as SCENARIOS_ZH  # noqa: E402

CASSETTE_DIR = MEDIA_DIR / "cassettes"
ALL_SCENARIOS = SCENARIOS + scenarios_lessons.SCENARIOS + SCENARIOS_ZH
RATE = 24000
SPEEDUP = 2.5                  # audio is generated this many times faster than real time
USER_AUDIO_TOKENS_PER_S = 10
ASSISTANT_AUDIO_TOKENS_PER_S = 20
RATE_LIMITS = {"requests": 600, "tokens": 100_000}
MODEL = "step-1o-audio"
ASSISTANT_VOICES = {"en": "en-us+f3", "cmn": "cmn+f3"}
_CJK = re.compile(r"[\u3000-\u303f\u3400-\u9fff\uff00-\uffef]")
_TOKEN = re.compile(r" ?[A-Za-z']+| ?\d+|\s+|.", re.S)
_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


# -- pure models: tokens, ids, text splitting, VAD ------------------------------------

def text_tokens(text: str) -> int:
    """Tokens of `text` in the usage model: one per CJK character, one per 4 other characters."""
    cjk = len(_CJK.findall(text))
    return cjk + math.ceil((len(text) - cjk) / 4)


def audio_tokens(samples: int, per_second: int) -> int:
    """Tokens of `samples` of 24 kHz audio at `per_second` tokens per second."""
    return math.ceil(samples * per_second / RATE)


def stable_id(prefix: str, *parts: object, length: int = 21) -> str:
    """`prefix` + `length` alphanumerics derived from `parts` (same parts, same id)."""
    number = int.from_bytes(hashlib.sha256(":".join(map(str, parts)).encode()).digest(), "big")
    chars = []
    for _ in range(length):
        number, digit = divmod(number, 62)
        chars.append(_BASE62[digit])
    return prefix + "".join(chars)


def split_tokens(text: str) -> list[str]:
    """`text` cut into token-sized deltas (a word, or 4-character pieces of a long one); they join to `text`."""
    pieces = []
    for token in _TOKEN.findall(text):
        while len(token) > 6:
            pieces.append(token[:4])
            token = token[4:]
        pieces.append(token)
    assert "".join(pieces) == text
    return pieces


def vad_segments(pcm: np.ndarray, turn_detection: dict) -> list[tuple[int, int]]:
    """(speech start ms, speech end ms) of each turn in `pcm` under server-VAD `turn_detection`."""
    level = 0.04 * turn_detection.get("energy_awakeness_threshold", 2500) / 2500
    silence_ms = turn_detection.get("silence_duration_ms", 500)
    frame = RATE // 50
    n = len(pcm) // frame
    rms = np.sqrt((pcm[:n * frame].astype(np.float64).reshape(n, frame) ** 2).mean(axis=1)) / 32768
    segments, start, last = [], None, None
    for i, loud in enumerate(rms > level):
        if loud:
            start = i * 20 if start is None else start
            last = (i + 1) * 20
        elif start is not None and (i + 1) * 20 - last >= silence_ms:
            segments.append((start, last))
            start = None
    if start is not None:
        raise ValueError(f"speech still going at the end of the audio ({last} ms): add trailing silence")
    return segments


@cache
def assistant_speech(text: str, wpm: int = 175) -> bytes:
    """The assistant saying `text` (Mandarin voice for Chinese text) at `wpm` as 24 kHz pcm16 bytes."""
    voice = ASSISTANT_VOICES["cmn" if _CJK.search(text) else "en"]
    audio = speak(text, voice, rate=RATE, wpm=wpm)
    audio *= 0.7 / max(float(np.abs(audio).max()), 1e-9)
    return to_pcm16(audio)


def to_pcm16(audio: np.ndarray) -> bytes:
    """Float samples in [-1, 1] as little-endian pcm16 bytes."""
    return (np.clip(audio, -1, 1) * 32767).round().astype("<i2").tobytes()


@cache
def user_audio(wav: str) -> bytes:
    """A media/ wav as the client sends it: 24 kHz mono pcm16 bytes."""
    samples, rate = sf.read(MEDIA_DIR / wav, dtype="float32", always_2d=True)
    mono = samples.mean(axis=1)
    if rate != RATE:
        mono = soxr.resample(mono, rate, RATE, quality="HQ")
    return to_pcm16(mono)


def spoken_words(wav: str) -> str:
    """What is said in media/`wav` (its transcript)."""
    for utterance in MEDIA:
        if utterance.file == wav:
            return utterance.text
    raise ValueError(f"{wav} is not one of the media files in tools/make_media.py")


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


# -- a response: its timeline, rendered complete or cut ---------------------------------

@dataclass
class Output:
    """One output item of a response being generated."""

    index: int
    item_id: str
    kind: str                      # "audio", "text" or "function_call"
    call: Call | None = None
    call_id: str = ""
    said: str = ""                 # transcript or text so far
    script: str = ""               # what the output will say in full
    lead_ms: int = 0               # extra time before it starts to speak (a reasoning model thinking)
    samples: int = 0
    arguments: str = ""
    opened: bool = False
    status: str = ""               # "" while open, then "completed" or "incomplete"


@dataclass
class Run:
    """A response's plan: ids, the timeline of its deltas and the usage inputs."""

    response_id: str
    trigger_ms: int
    modalities: list
    voice: str
    timeline: list                 # (ms, action, output index, payload)
    outputs: list
    input_text: int
    input_audio: int
    cached: int
    items_before: int
    tokens_before: int
    requests_before: int
    frames: list = field(default_factory=list)
    first_audio_ms: int | None = None
    done_ms: int = 0


class Recording:
    """Builds one cassette step by step: the session state, the clock and the frames."""

    def __init__(self, scenario: Scenario):
        self.scenario = scenario
        self.rng = random.Random(scenario.name)
        self.frames: list[tuple[int, int, Frame]] = []
        self.counters: dict[str, int] = {}
        self.client_prefix = hashlib.sha256(scenario.name.encode()).hexdigest()[:6]
        created = timegm(strptime(scenario.created, "%Y-%m-%dT%H:%M:%SZ"))
        self.session = {
            "id": self.new_id("sess_"), "object": "realtime.session", "model": MODEL,
            "expires_at": created + 1800, "modalities": ["text", "audio"], "instructions": "",
            "voice": "linjiajiejie", "input_audio_format": "pcm16", "output_audio_format": "pcm16",
            "input_audio_transcription": None, "turn_detection": None, "tools": [],
            "tool_choice": "auto", "temperature": 0.8, "max_response_output_tokens": 4096,
        }
        self.conversation_id = self.new_id("conv_")
        self.items: list[str] = []
        self.item_tokens: dict[str, tuple[int, int]] = {}   # item id -> (text, audio) tokens
        self.audio_ms = 0            # input audio appended so far (VAD clock)
        self.tokens_used = 0
        self.requests_used = 0
        self.last_input = 0
        self.last_run: Run | None = None
        self.last_call: tuple[str, str] | None = None        # (call_id, name)
        self.server(0, "session.created", session=dict(self.session))

    # ids, clock and frames
    def new_id(self, prefix: str, length: int = 21) -> str:
        n = self.counters[prefix] = self.counters.get(prefix, 0) + 1
        return stable_id(prefix, self.scenario.name, prefix, n, length=length)

    def jitter(self, low: int, high: int) -> int:
        return self.rng.randint(low, high)

    @property
    def now(self) -> int:
        return max(ms for ms, _, _ in self.frames)

    def add(self, ms: int, frame: Frame) -> Frame:
        self.frames.append((ms, len(self.frames), frame))
        return frame

    def client(self, ms: int, event: dict) -> int:
        n = self.counters["client"] = self.counters.get("client", 0) + 1
        self.add(ms, Frame(ms / 1000, "client", {"event_id": f"evt_{self.client_prefix}_{n}", **event}))
        return ms

    def server(self, ms: int, type_: str, **fields) -> Frame:
        return self.add(ms, Frame(ms / 1000, "server", {"type": type_, "event_id": self.new_id("event_"), **fields}))

    def next_client_ms(self, low: int = 250, high: int = 600) -> int:
        """When the client's next action goes out: the learner's next cell after the last frame."""
        return self.now + self.jitter(low, high)

    # conversation
    def add_item(self, ms: int, item: dict, tokens: tuple[int, int]) -> None:
        previous = self.items[-1] if self.items else None
        self.items.append(item["id"])
        self.item_tokens[item["id"]] = tokens
        self.server(ms, "conversation.item.created", previous_item_id=previous, item=item)

    def message(self, role: str, content: list, status: str = "completed") -> dict:
        return {"id": self.new_id("item_"), "object": "realtime.item", "type": "message",
                "status": status, "role": role, "content": content}

    def transcribe(self, ms: int, item_id: str, wav: str, samples: int) -> None:
        if not self.session.get("input_audio_transcription"):
            return
        words = spoken_words(wav)
        audio_in, text_out = audio_tokens(samples, USER_AUDIO_TOKENS_PER_S), text_tokens(words)
        usage = {"type": "tokens", "total_tokens": audio_in + text_out, "input_tokens": audio_in,
                 "input_token_details": {"text_tokens": 0, "audio_tokens": audio_in}, "output_tokens": text_out}
        self.server(ms + 300 + samples * 20 // RATE, "conversation.item.input_audio_transcription.completed",
                    item_id=item_id, content_index=0, transcript=words, usage=usage)

    # steps
    def update(self, step: Update) -> None:
        t = self.client(self.next_client_ms(), events.session_update(step.session))
        for key, value in step.session.items():
            if key == "turn_detection" and value:
                value = {"type": "server_vad", "prefix_padding_ms": 500, "silence_duration_ms": 100,
                         "energy_awakeness_threshold": 2500, "create_response": True,
                         "interrupt_response": True, **value}
            self.session[key] = value
        self.server(t + self.jitter(180, 320), "session.updated", session=dict(self.session))

    def say(self, step: Say | Restore) -> None:
        role = getattr(step, "role", "user")
        if role == "user":
            event = events.user_text(step.text)
            content = [{"type": "input_text", "text": step.text}]
        else:
            event = events.assistant_text(step.text, "beta")
            content = [{"type": "text", "text": step.text}]
        t = self.client(self.next_client_ms(), event)
        self.add_item(t + self.jitter(40, 90), self.message(role, content), (text_tokens(step.text), 0))

    def send_audio(self, step: SendAudio) -> None:
        pcm = user_audio(step.wav)
        chunk = RATE * 2 * step.chunk_ms // 1000
        t = self.next_client_ms()
        for offset in range(0, len(pcm), chunk):
            t = self.client(t + 3, events.input_audio_append(pcm[offset:offset + chunk]))
        t = self.client(t + 3, events.input_audio_commit())
        item = self.message("user", [{"type": "input_audio", "transcript": None}])
        previous = self.items[-1] if self.items else None
        t += self.jitter(30, 60)
        self.server(t, "input_audio_buffer.committed", previous_item_id=previous, item_id=item["id"])
        samples = len(pcm) // 2
        self.audio_ms += samples * 1000 // RATE
        self.add_item(t + 1, item, (0, audio_tokens(samples, USER_AUDIO_TOKENS_PER_S)))
        self.transcribe(t + 1, item["id"], step.wav, samples)

    def send_audio_item(self, step: SendAudioItem) -> None:
        pcm = user_audio(step.wav)
        t = self.client(self.next_client_ms(), events.user_audio(pcm))
        item = self.message("user", [{"type": "input_audio", "transcript": None}])
        samples = len(pcm) // 2
        self.add_item(t + self.jitter(70, 120), item, (0, audio_tokens(samples, USER_AUDIO_TOKENS_PER_S)))
        self.transcribe(t + 100, item["id"], step.wav, samples)

    def return_result(self, step: ReturnResult) -> None:
        if self.last_call is None:
            raise ValueError(f"{self.scenario.name}: ReturnResult before any function call")
        call_id, _ = self.last_call
        event = events.function_output(call_id, step.output)
        t = self.client(self.next_client_ms(), event)
        item = {"id": self.new_id("item_"), "object": "realtime.item", "type": "function_call_output",
                "status": "completed", "call_id": call_id, "output": event["item"]["output"]}
        self.add_item(t + self.jitter(40, 90), item, (text_tokens(item["output"]), 0))

    def truncate(self, step: Truncate) -> None:
        run = self.last_run
        if run is None or run.first_audio_ms is None:
            raise ValueError(f"{self.scenario.name}: Truncate needs an assistant audio answer first")
        self.truncate_at(max(self.next_client_ms(), run.first_audio_ms + step.audio_end_ms + 80), step.audio_end_ms)

    def truncate_at(self, ms: int, audio_end_ms: int) -> None:
        run = self.last_run
        audio = next(o for o in run.outputs if o.kind == "audio")
        sent_ms = audio.samples * 1000 // RATE
        if audio_end_ms > sent_ms:
            raise ValueError(f"{self.scenario.name}: truncate at {audio_end_ms} ms but only {sent_ms} ms were sent")
        t = self.client(ms, events.item_truncate(audio.item_id, audio_end_ms))
        self.server(t + self.jitter(25, 50), "conversation.item.truncated", item_id=audio.item_id,
                    content_index=0, audio_end_ms=audio_end_ms)
        self.item_tokens[audio.item_id] = (0, audio_tokens(audio_end_ms * RATE // 1000, ASSISTANT_AUDIO_TOKENS_PER_S))

    def respond(self, step: Respond, trigger_ms: int | None = None) -> None:
        if trigger_ms is None:
            event = events.response_create(**step.overrides)
            trigger_ms = self.client(self.next_client_ms(150, 300), event)
            if step.cancel_after_s is not None:
                self.client(trigger_ms + round(step.cancel_after_s * 1000), events.response_cancel())
        run = self.plan(step, trigger_ms)
        cut = None if step.cancel_after_s is None else trigger_ms + round(step.cancel_after_s * 1000) + 20
        self.render(run, cut, "client_cancelled")

    def speak(self, step: Speak) -> None:
        turn = self.session.get("turn_detection") or {}
        if turn.get("type") != "server_vad":
            raise ValueError(f"{self.scenario.name}: Speak needs server VAD on (Update turn_detection first)")
        pcm = user_audio(step.wav)
        if step.barge_in_after_s is None:
            start = self.next_client_ms()
        else:
            start = self.last_run.trigger_ms + round(step.barge_in_after_s * 1000)
        chunk = RATE * 2 // 10
        for k, offset in enumerate(range(0, len(pcm), chunk)):
            self.client(start + (k + 1) * 100, events.input_audio_append(pcm[offset:offset + chunk]))

        def arrival(file_ms: int) -> int:
            """When the server has heard `file_ms` of this audio: the chunk holding it has arrived."""
            return start + math.ceil(file_ms / 100) * 100 + self.jitter(5, 25)

        segments = vad_segments(np.frombuffer(pcm, "<i2"), turn)
        if step.reply is not None and (len(segments) != 1 or not turn.get("create_response", True)):
            raise ValueError(f"{self.scenario.name}: a Speak with a reply needs one turn and create_response on")
        for on_ms, off_ms in segments:
            item = self.message("user", [{"type": "input_audio", "transcript": None}])
            started = arrival(on_ms + 20)
            self.server(started, "input_audio_buffer.speech_started", item_id=item["id"],
                        audio_start_ms=self.audio_ms + max(0, on_ms - turn["prefix_padding_ms"]))
            self.barge_in(started, turn)
            stop_ms = off_ms + turn["silence_duration_ms"]
            stopped = arrival(stop_ms)
            self.server(stopped, "input_audio_buffer.speech_stopped", item_id=item["id"],
                        audio_end_ms=self.audio_ms + stop_ms)
            previous = self.items[-1] if self.items else None
            self.server(stopped + 5, "input_audio_buffer.committed", previous_item_id=previous, item_id=item["id"])
            samples = (stop_ms - max(0, on_ms - turn["prefix_padding_ms"])) * RATE // 1000
            self.add_item(stopped + 6, item, (0, audio_tokens(samples, USER_AUDIO_TOKENS_PER_S)))
            if step.reply is not None:
                self.respond(step.reply, trigger_ms=stopped + 5)
        self.audio_ms += len(pcm) // 2 * 1000 // RATE

    def barge_in(self, started: int, turn: dict) -> None:
        """Speech started: cut a response still being generated, then truncate what was played."""
        run = self.last_run
        if run is None or run.done_ms <= started or not turn.get("interrupt_response", True):
            return
        self.render(run, started + 5, "turn_detected")
        if run.first_audio_ms is not None and run.first_audio_ms < started:
            audio = next(o for o in run.outputs if o.kind == "audio")
            played = min(started + 60 - run.first_audio_ms, audio.samples * 1000 // RATE)
            self.truncate_at(started + 60, played)

    # responses
    def plan(self, step: Respond, trigger_ms: int) -> Run:
        modalities = step.overrides.get("modalities", self.session["modalities"])
        outputs = self.outputs_for(step, modalities)
        if not outputs:
            raise ValueError(f"{self.scenario.name}: a Respond needs words to say or a call to make")
        timeline = [(trigger_ms + self.jitter(220, 290), "created", None, None)]
        t = timeline[0][0]
        for out in outputs:
            t += self.jitter(5, 15)
            timeline.append((t, "open", out.index, None))
            if out.kind == "function_call":
                args = json.dumps(out.call.arguments, ensure_ascii=False)
                t += self.jitter(120, 200)
                for piece in [args[i:i + 5] for i in range(0, len(args), 5)]:
                    t += self.jitter(15, 35)
                    timeline.append((t, "args", out.index, piece))
            else:
                first = max(t + 2, trigger_ms + self.jitter(380, 480)) + out.lead_ms
                text_at = first
                for piece in split_tokens(out.script):
                    timeline.append((text_at, "text", out.index, piece))
                    text_at += self.jitter(25, 45)
                t = text_at
                if out.kind == "audio":
                    pcm, offset = assistant_speech(out.script, self.scenario.wpm), 0
                    while offset < len(pcm):
                        size = RATE * 2 * self.rng.choice((240, 280, 320, 360)) // 1000
                        chunk = pcm[offset:offset + size]
                        offset += len(chunk)
                        t = first + 30 + round(offset / 2 / RATE * 1000 / SPEEDUP)
                        timeline.append((t, "audio", out.index, chunk))
                    t = max(t, text_at)
            t += self.jitter(5, 15)
            timeline.append((t, "close", out.index, None))
        timeline.sort(key=lambda entry: entry[0])
        input_text = (text_tokens(self.session["instructions"]) + text_tokens(json.dumps(self.session["tools"]))
                      + sum(self.item_tokens[i][0] for i in self.items))
        input_audio = sum(self.item_tokens[i][1] for i in self.items)
        cached = min(self.last_input, input_text + input_audio) // 64 * 64
        self.last_input = input_text + input_audio
        return Run(self.new_id("resp_"), trigger_ms, modalities, self.session["voice"], timeline, outputs,
                   input_text, input_audio, cached, len(self.items), self.tokens_used, self.requests_used)

    def outputs_for(self, step: Respond, modalities: list) -> list[Output]:
        """The output items a response will have: its words (speech or text), then its call."""
        outputs = []
        if step.say:
            outputs.append(Output(0, self.new_id("item_"), "audio" if "audio" in modalities else "text",
                                  script=step.say))
        if step.call:
            outputs.append(Output(len(outputs), self.new_id("item_"), "function_call", step.call,
                                  self.new_id("call_", 16)))
        return outputs

    def render(self, run: Run, cut: int | None, reason: str) -> None:
        """Emit `run`'s frames, whole or cut at `cut` ms (replacing any earlier rendering)."""
        stale = {id(frame) for frame in run.frames}
        self.frames = [f for f in self.frames if id(f[2]) not in stale]
        del self.items[run.items_before:]
        for out in run.outputs:
            out.said, out.samples, out.arguments, out.opened, out.status = "", 0, "", False, ""
        run.first_audio_ms = None
        emitted = []
        self.last_run = run

        def emit(ms: int, type_: str, **fields) -> int:
            emitted.append(self.server(ms, type_, **fields))
            return ms

        ids = {"response_id": run.response_id}
        t = run.trigger_ms
        for t, action, index, payload in run.timeline:
            if cut is not None and t > cut:
                t = cut
                break
            out = run.outputs[index] if index is not None else None
            where = {} if out is None else {**ids, "item_id": out.item_id, "output_index": out.index}
            if action == "created":
                emit(t, "response.created", response=self.response_object(run, "in_progress"))
            elif action == "open":
                out.opened = True
                item = self.output_item(out, "in_progress")
                emit(t, "response.output_item.added", **ids, output_index=out.index, item=item)
                previous = self.items[-1] if self.items else None
                self.items.append(out.item_id)
                emit(t, "conversation.item.created", previous_item_id=previous, item=item)
                if out.kind != "function_call":
                    emit(t, "response.content_part.added", **where, content_index=0, part=self.part(out, empty=True))
            elif action == "args":
                out.arguments += payload
                emit(t, "response.function_call_arguments.delta", **where, call_id=out.call_id, delta=payload)
            elif action == "text":
                out.said += payload
                kind = "response.audio_transcript.delta" if out.kind == "audio" else "response.text.delta"
                emit(t, kind, **where, content_index=0, delta=payload)
            elif action == "audio":
                out.samples += len(payload) // 2
                run.first_audio_ms = t if run.first_audio_ms is None else run.first_audio_ms
                emit(t, "response.audio.delta", **where, content_index=0, delta=b64(payload))
            elif action == "close":
                t = self.close_output(emit, t, run, out, "completed")
        status = "completed" if all(o.status for o in run.outputs) else "cancelled"
        for out in run.outputs:
            if out.opened and not out.status:
                t = self.close_output(emit, t + 1, run, out, "incomplete")
        run.outputs = [o for o in run.outputs if o.opened] if status == "cancelled" else run.outputs
        final = self.response_object(run, status, reason if status == "cancelled" else None)
        run.done_ms = emit(t + self.jitter(5, 15), "response.done", response=final)
        total = final["usage"]["total_tokens"]
        self.tokens_used = run.tokens_before + total
        self.requests_used = run.requests_before + 1
        emit(run.done_ms + self.jitter(15, 30), "rate_limits.updated", rate_limits=[
            {"name": "requests", "limit": RATE_LIMITS["requests"],
             "remaining": RATE_LIMITS["requests"] - self.requests_used, "reset_seconds": 60},
            {"name": "tokens", "limit": RATE_LIMITS["tokens"],
             "remaining": RATE_LIMITS["tokens"] - self.tokens_used,
             "reset_seconds": round(60 * self.tokens_used / RATE_LIMITS["tokens"], 3)}])
        run.frames = emitted
        for out in run.outputs:
            if out.kind == "function_call":
                self.item_tokens[out.item_id] = (text_tokens(out.call.name + out.arguments), 0)
                self.last_call = (out.call_id, out.call.name)
            else:
                self.item_tokens[out.item_id] = (text_tokens(out.said),
                                                 audio_tokens(out.samples, ASSISTANT_AUDIO_TOKENS_PER_S))

    def close_output(self, emit, t: int, run: Run, out: Output, status: str) -> int:
        """The *.done events that finish one output item; returns the time of the last."""
        out.status = status
        where = {"response_id": run.response_id, "item_id": out.item_id, "output_index": out.index}
        if out.kind == "function_call":
            emit(t, "response.function_call_arguments.done", **where, call_id=out.call_id,
                 name=out.call.name, arguments=out.arguments)
        else:
            if out.kind == "audio":
                emit(t, "response.audio.done", **where, content_index=0)
                emit(t, "response.audio_transcript.done", **where, content_index=0, transcript=out.said)
            else:
                emit(t, "response.text.done", **where, content_index=0, text=out.said)
            emit(t, "response.content_part.done", **where, content_index=0, part=self.part(out))
        return emit(t + 1, "response.output_item.done", response_id=run.response_id, output_index=out.index,
                    item=self.output_item(out, status))

    @staticmethod
    def part(out: Output, empty: bool = False) -> dict:
        said = "" if empty else out.said
        return {"type": "audio", "transcript": said} if out.kind == "audio" else {"type": "text", "text": said}

    @staticmethod
    def output_item(out: Output, status: str) -> dict:
        item = {"id": out.item_id, "object": "realtime.item", "type": out.kind, "status": status}
        if out.kind == "function_call":
            done = status != "in_progress"
            return {**item, "name": out.call.name, "call_id": out.call_id,
                    "arguments": out.arguments if done else ""}
        content = [] if status == "in_progress" else [Recording.part(out)]
        return {**item, "type": "message", "role": "assistant", "content": content}

    def response_object(self, run: Run, status: str, reason: str | None = None) -> dict:
        done = status != "in_progress"
        details = None if status in ("in_progress", "completed") else {"type": status, "reason": reason}
        return {"object": "realtime.response", "id": run.response_id, "status": status,
                "status_details": details,
                "output": [self.output_item(o, o.status) for o in run.outputs] if done else [],
                "conversation_id": self.conversation_id, "modalities": run.modalities, "voice": run.voice,
                "output_audio_format": "pcm16", "temperature": self.session["temperature"],
                "max_output_tokens": "inf", "usage": self.usage(run) if done else None, "metadata": None}

    def usage(self, run: Run) -> dict:
        out_text = sum(text_tokens(o.said) if o.kind != "function_call"
                       else text_tokens(o.call.name + o.arguments) for o in run.outputs)
        out_audio = sum(audio_tokens(o.samples, ASSISTANT_AUDIO_TOKENS_PER_S) for o in run.outputs)
        cached_text = min(run.cached, run.input_text)
        input_total = run.input_text + run.input_audio
        return {"total_tokens": input_total + out_text + out_audio, "input_tokens": input_total,
                "output_tokens": out_text + out_audio,
                "input_token_details": {"text_tokens": run.input_text, "audio_tokens": run.input_audio,
                                        "cached_tokens": run.cached,
                                        "cached_tokens_details": {"text_tokens": cached_text,
                                                                  "audio_tokens": run.cached - cached_text}},
                "output_token_details": {"text_tokens": out_text, "audio_tokens": out_audio}}

    # the whole session
    def actions(self) -> dict:
        """What plays each kind of step."""
        return {Update: self.update, Say: self.say, Restore: self.say, SendAudio: self.send_audio,
                SendAudioItem: self.send_audio_item, Respond: self.respond, ReturnResult: self.return_result,
                Truncate: self.truncate, Speak: self.speak}

    def run(self) -> Cassette:
        """Play every step of the scenario, close the socket, and return the cassette."""
        actions = self.actions()
        for step in self.scenario.steps:
            actions[type(step)](step)
        self.add(self.next_client_ms(), Frame(0, "server", close={"code": 1000, "reason": ""}))
        return Cassette(self.metadata(), self.ordered_frames())

    def ordered_frames(self) -> list[Frame]:
        """The frames in time order (ties in the order they were made), each stamped with its time."""
        frames = []
        for ms, _, frame in sorted(self.frames, key=lambda f: (f[0], f[1])):
            frame.t = ms / 1000
            frames.append(frame)
        return frames

    def metadata(self) -> dict:
        name, notebook = self.scenario.name, self.scenario.notebook
        return {"cassette": FORMAT_VERSION, "name": name, "provider": "stepfun", "dialect": "beta",
                "model": MODEL, "created": self.scenario.created,
                "provenance": {"kind": "synthesized", "tool": "tools/synthesize_cassettes.py",
                               "speech": f"espeak-ng {espeak_version()}", "tokens": "modelled",
                               "timings": "modelled", "script": name,
                               "note": "made locally by a script; not a recording of the StepFun service",
                               "rerecord": f"helpers.connect(provider='stepfun', record='media/cassettes/"
                                           f"{name}.jsonl') and run notebook {notebook}"},
                "description": self.scenario.description, "responses": self.scenario.responses}


def synthesize(scenario: Scenario) -> Cassette:
    """The cassette of one scenario."""
    return Recording(scenario).run()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=CASSETTE_DIR, help="folder for the .jsonl files")
    parser.add_argument("--only", nargs="*", default=None, metavar="NAME", help="build only these scenarios")
    args = parser.parse_args(argv)
    builders = registered()
    unknown = set(args.only or ()) - set(builders)
    if unknown:
        parser.error(f"unknown scenario(s) {sorted(unknown)}; known: {sorted(builders)}")
    for name, (scenario, build) in builders.items():
        if args.only is None or name in args.only:
            path = save(build(scenario), args.out / f"{name}.jsonl")
            print(f"{path}  {path.stat().st_size / 1e6:.2f} MB  {scenario.responses} response(s)")


def registered() -> dict:
    """Every scenario by name, with the function that builds its cassette (the scenario files register here)."""
    from synthesize_2026 import SCENARIOS_2026, synthesize_2026  # imported late: it builds on this module
    from scenarios_2026_zh import SCENARIOS as SCENARIOS_2026_ZH
    return {**{s.name: (s, synthesize) for s in ALL_SCENARIOS},
            **{s.name: (s, synthesize_2026) for s in SCENARIOS_2026},
            **{s.name: (s, synthesize_2026) for s in SCENARIOS_2026_ZH}}


if __name__ == "__main__":
    main()
