"""Real-shaped server and client frame sequences for tests, in the beta dialect, and `to_ga`.

The sequences follow the orderings in shared/reference/realtime-protocol.md §3 (beta names);
`to_ga` turns a beta sequence into what an OpenAI GA server sends. Shared by the tests of
`helpers.conversation` and `helpers.report`.
"""

from __future__ import annotations

import base64

from helpers import events as ev
from helpers.audio import BYTES_PER_MS
from helpers.cassette import Frame

USAGE = {"total_tokens": 1289, "input_tokens": 984, "output_tokens": 305,
         "input_token_details": {"text_tokens": 984, "audio_tokens": 0, "cached_tokens": 960,
                                 "cached_tokens_details": {"text_tokens": 960, "audio_tokens": 0}},
         "output_token_details": {"text_tokens": 61, "audio_tokens": 244}}


def pcm(ms: int, seed: int = 0) -> bytes:
    """Deterministic non-silent pcm16 audio of `ms` milliseconds."""
    return bytes((seed + i * 7) % 256 for i in range(ms * BYTES_PER_MS))


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def chunks(data: bytes, *sizes: int) -> list[bytes]:
    out, at = [], 0
    for size in sizes:
        out.append(data[at:at + size])
        at += size
    assert at == len(data)
    return out


# -- beta sequences (server events are beta-named; client events are dialect-free here) ----

def S(t, event):
    return Frame(t, "server", event)


def C(t, event):
    return Frame(t, "client", event)


def user_text_turn(t, item_id, text, prev):
    return [
        C(t, ev.user_text(text)),
        S(t + 0.05, {"type": "conversation.item.created", "event_id": "e", "previous_item_id": prev,
                     "item": {"id": item_id, "object": "realtime.item", "type": "message", "status": "completed",
                              "role": "user", "content": [{"type": "input_text", "text": text}]}}),
    ]


def assistant_text_response(t, resp, item_id, prev, pieces, usage=USAGE, create=True):
    full = "".join(pieces)
    base = {"response_id": resp, "item_id": item_id, "output_index": 0, "content_index": 0}
    item = {"id": item_id, "object": "realtime.item", "type": "message", "status": "in_progress",
            "role": "assistant", "content": []}
    done_item = dict(item, status="completed", content=[{"type": "text", "text": full}])
    frames = [C(t, ev.response_create())] if create else []
    frames += [
        S(t + 0.280, {"type": "response.created", "response": {"id": resp, "status": "in_progress",
                                                              "output": [], "usage": None}}),
        S(t + 0.300, {"type": "response.output_item.added", "response_id": resp, "output_index": 0, "item": item}),
        S(t + 0.301, {"type": "conversation.item.created", "previous_item_id": prev, "item": item}),
        S(t + 0.302, {"type": "response.content_part.added", **base, "part": {"type": "text", "text": ""}}),
    ]
    frames += [S(t + 0.476 + i * 0.01, {"type": "response.text.delta", **base, "delta": piece})
               for i, piece in enumerate(pieces)]
    frames += [
        S(t + 0.510, {"type": "response.text.done", **base, "text": full}),
        S(t + 0.511, {"type": "response.content_part.done", **base, "part": {"type": "text", "text": full}}),
        S(t + 0.512, {"type": "response.output_item.done", "response_id": resp, "output_index": 0, "item": done_item}),
        S(t + 0.518, {"type": "response.done", "response": {"id": resp, "status": "completed", "status_details": None,
                                                           "output": [done_item], "usage": usage}}),
    ]
    return frames


def user_audio_turn(t, item_id, prev, audio, transcript_pieces):
    pieces = chunks(audio, *[4800] * (len(audio) // 4800))
    frames = [C(t + i * 0.02, ev.input_audio_append(piece)) for i, piece in enumerate(pieces)]
    t += 0.5
    frames += [
        C(t, ev.input_audio_commit()),
        S(t + 0.01, {"type": "input_audio_buffer.committed", "previous_item_id": prev, "item_id": item_id}),
        S(t + 0.02, {"type": "conversation.item.created", "previous_item_id": prev,
                     "item": {"id": item_id, "object": "realtime.item", "type": "message", "status": "completed",
                              "role": "user", "content": [{"type": "input_audio", "transcript": None}]}}),
    ]
    frames += [S(t + 0.03 + i * 0.01, {"type": "conversation.item.input_audio_transcription.delta",
                                       "item_id": item_id, "content_index": 0, "delta": piece})
               for i, piece in enumerate(transcript_pieces)]
    return frames


def assistant_audio_response(t, resp, item_id, prev, audio_pieces, transcript_pieces, *,
                             cancel_at=None, usage=USAGE, interleave=()):
    """An audio response; `cancel_at` = number of audio deltas sent before the client cancels."""
    base = {"response_id": resp, "item_id": item_id, "output_index": 0, "content_index": 0}
    item = {"id": item_id, "object": "realtime.item", "type": "message", "status": "in_progress",
            "role": "assistant", "content": []}
    frames = [
        C(t, ev.response_create()),
        S(t + 0.2, {"type": "response.created", "response": {"id": resp, "status": "in_progress", "output": []}}),
        S(t + 0.21, {"type": "response.output_item.added", "response_id": resp, "output_index": 0, "item": item}),
        S(t + 0.22, {"type": "conversation.item.created", "previous_item_id": prev, "item": item}),
        S(t + 0.23, {"type": "response.content_part.added", **base, "part": {"type": "audio", "transcript": ""}}),
    ]
    sent_audio, sent_text = [], []
    tt = t + 0.3
    for i, piece in enumerate(audio_pieces):
        if cancel_at is not None and i == cancel_at:
            break
        if i < len(transcript_pieces):
            frames.append(S(tt, {"type": "response.audio_transcript.delta", **base, "delta": transcript_pieces[i]}))
            sent_text.append(transcript_pieces[i])
        frames.append(S(tt + 0.05, {"type": "response.audio.delta", **base, "delta": b64(piece)}))
        sent_audio.append(piece)
        if i == 0:
            frames += [S(tt + 0.06, e) for e in interleave]
        tt += 0.1
    if cancel_at is None:
        sent_text += transcript_pieces[len(sent_text):]
    else:
        frames.append(C(tt, ev.response_cancel()))
    transcript = "".join(sent_text)
    status = "completed" if cancel_at is None else "incomplete"
    part = {"type": "audio", "transcript": transcript}
    done_item = dict(item, status=status, content=[part])
    frames += [
        S(tt + 0.01, {"type": "response.audio.done", **base}),
        S(tt + 0.02, {"type": "response.audio_transcript.done", **base, "transcript": transcript}),
        S(tt + 0.03, {"type": "response.content_part.done", **base, "part": part}),
        S(tt + 0.04, {"type": "response.output_item.done", "response_id": resp, "output_index": 0, "item": done_item}),
        S(tt + 0.05, {"type": "response.done", "response": {
            "id": resp, "status": "completed" if cancel_at is None else "cancelled",
            "status_details": None if cancel_at is None else {"type": "cancelled", "reason": "client_cancelled"},
            "output": [done_item], "usage": usage}}),
    ]
    return frames, b"".join(sent_audio)


def function_call_response(t, resp, item_id, call_id, prev, name, arg_pieces):
    arguments = "".join(arg_pieces)
    item = {"id": item_id, "object": "realtime.item", "type": "function_call", "status": "in_progress",
            "name": name, "call_id": call_id, "arguments": ""}
    done_item = dict(item, status="completed", arguments=arguments)
    base = {"response_id": resp, "item_id": item_id, "output_index": 0, "call_id": call_id}
    frames = [
        C(t, ev.response_create()),
        S(t + 0.2, {"type": "response.created", "response": {"id": resp, "status": "in_progress", "output": []}}),
        S(t + 0.21, {"type": "response.output_item.added", "response_id": resp, "output_index": 0, "item": item}),
        S(t + 0.22, {"type": "conversation.item.created", "previous_item_id": prev, "item": item}),
    ]
    frames += [S(t + 0.3 + i * 0.01, {"type": "response.function_call_arguments.delta", **base, "delta": p})
               for i, p in enumerate(arg_pieces)]
    frames += [
        S(t + 0.4, {"type": "response.function_call_arguments.done", **base, "name": name, "arguments": arguments}),
        S(t + 0.41, {"type": "response.output_item.done", "response_id": resp, "output_index": 0, "item": done_item}),
        S(t + 0.42, {"type": "response.done", "response": {"id": resp, "status": "completed",
                                                           "output": [done_item], "usage": USAGE}}),
    ]
    return frames


def function_output_turn(t, item_id, call_id, prev, output):
    create = ev.function_output(call_id, output)
    return [
        C(t, create),
        S(t + 0.05, {"type": "conversation.item.created", "previous_item_id": prev,
                     "item": {**create["item"], "id": item_id, "object": "realtime.item", "status": "completed"}}),
    ]


def to_ga(frames):
    """The same session as an OpenAI GA server sends it: GA names, item.added + item.done."""
    out = []
    for frame in frames:
        if frame.source == "client":
            out.append(frame)
            continue
        event = _ga_parts(frame.event)
        kind = event["type"]
        if kind == "conversation.item.created":
            out.append(Frame(frame.t, "server", dict(event, type="conversation.item.added")))
            if event["item"].get("status") == "completed":
                out.append(Frame(frame.t, "server", dict(event, type="conversation.item.done")))
            continue
        if kind == "response.output_item.done" and event["item"]["type"] == "message":
            out.append(Frame(frame.t, "server", {"type": "conversation.item.done", "item": event["item"]}))
        out.append(Frame(frame.t, "server", dict(event, type=ev.BETA_TO_GA.get(kind, kind))))
    return out


def _ga_parts(event):
    """Assistant content part types as GA names them (text -> output_text, audio -> output_audio)."""
    rename = {"text": "output_text", "audio": "output_audio"}

    def fix_item(item):
        if item.get("role") != "assistant" or not item.get("content"):
            return item
        return dict(item, content=[dict(p, type=rename.get(p["type"], p["type"])) for p in item["content"]])

    if "item" in event:
        event = dict(event, item=fix_item(event["item"]))
    if "response" in event and event["response"].get("output"):
        event = dict(event, response=dict(event["response"], output=[fix_item(i) for i in event["response"]["output"]]))
    return event


DIALECTS = {"beta": lambda frames: frames, "ga": to_ga}
