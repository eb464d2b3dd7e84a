"""A Realtime conversation behind plain HTTP: upload speech (or text), get the answer as SSE.

Products rarely let a browser or an app hold the API key: a small service does, and relays.
`create_app()` builds that service as an ASGI app::

    POST /process_audio   form fields: file (an audio upload, any format `helpers.audio.load_audio`
                          reads) or text; conversation_id (optional: a new conversation is made and
                          its id returned in the X-Conversation-Id header)
                          -> text/event-stream: turn, input_transcript, transcript (one per delta,
                             with its output_index: a preamble is output 0, its answer 1), thinking
                             (StepFun reasoning models), then done (transcript, transcripts per
                             output item, audio_url, history, report) or error
    GET  /audio/{name}    the answer's speech as a 24 kHz wav (the done event's audio_url)

Each conversation owns one upstream Realtime session (`helpers.connect`), kept open between
turns. When that session is gone (it expired after ``idle_timeout_s`` without a turn, the
server closed it, or a turn failed half-way) the next turn opens a new one and restores the
conversation into it as items (`Conversation.restore_events`: audio turns come back as their
transcripts), not as instructions. Memory is bounded: idle upstream sessions are closed (only
their text history is kept), at most ``max_conversations`` are kept (the least recently used is
forgotten, with its audio files), and uploads over ``max_upload_bytes`` are refused.

The API key stays on the server: it goes into the upstream Authorization header and nowhere
else. Every event streamed back, and every upstream error passed on in a response or a log
line, goes through a filter that removes it.

Why Starlette and not FastAPI: the service is one streaming route whose input (a file *or*
text) and errors (one JSON shape, ``{"error": {"code", "message"}}``, with the right 4xx) are
checked by hand anyway, so FastAPI's models and its 422 format would add a layer without
removing code. FastAPI is Starlette underneath: ``fastapi_app.mount("/relay", create_app())``.

The helpers client is blocking (a socket thread and a queue), so each step of a turn runs in a
worker thread (`anyio.to_thread`) and the SSE generator awaits it: the event loop never blocks,
every wait has a timeout, and an upstream drop mid-turn ends the stream with an ``error`` event.

The parts: `helpers.relay_core` (conversations, upstream sessions, turns: no HTTP) and
`helpers.relay_http` (the Starlette app, input checks, SSE, the uvicorn server thread).
"""

from __future__ import annotations

from .relay_core import APPEND_CHUNK_MS, INSTRUCTIONS, Relay, RelayError
from .relay_http import RelayServer, create_app, parse_sse, serve_in_background

__all__ = ["APPEND_CHUNK_MS", "INSTRUCTIONS", "Relay", "RelayError", "RelayServer", "create_app", "parse_sse",
           "serve_in_background"]
