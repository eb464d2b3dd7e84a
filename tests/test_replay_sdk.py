"""The official openai SDK, unchanged, against the replay CLI: every server event validates.

GA events validate against ``openai.types.realtime.RealtimeServerEvent``; beta events against
``openai.types.beta.realtime.RealtimeServerEvent`` with StepFun's documented deviations
(listed in STEPFUN_DEVIATIONS) applied first. Both through a discriminated union on ``type``.
"""

from __future__ import annotations

import base64
from typing import Annotated, Union, get_args

import pytest
from openai import OpenAI
from openai.types.beta.realtime import RealtimeServerEvent as BetaServerEvent
from openai.types.realtime import RealtimeServerEvent as GAServerEvent
from pydantic import Field, TypeAdapter

from tests.replay_fixtures import silence, tone


def discriminated(alias) -> TypeAdapter:
    members = get_args(get_args(alias)[0])
    return TypeAdapter(Annotated[Union[members], Field(discriminator="type")])


GA = discriminated(GAServerEvent)
BETA = discriminated(BetaServerEvent)


def _drop_session_model(event: dict) -> dict:
    session = dict(event["session"])
    session.pop("model", None)
    return dict(event, session=session)


# StepFun's documented deviations from the beta SDK models (reference §6): the session's model is
# a step-* name, which the beta `Session.model` Literal does not list.
STEPFUN_DEVIATIONS = {"session.created": _drop_session_model, "session.updated": _drop_session_model}


def validate(event, dialect: str) -> None:
    data = event.model_dump(exclude_unset=True) if hasattr(event, "model_dump") else event
    if dialect == "beta":
        data = STEPFUN_DEVIATIONS.get(data["type"], lambda e: e)(data)
        BETA.validate_python(data, strict=True)
    else:
        GA.validate_python(data, strict=True)


def drain(conn, dialect: str, until: str, seen: list[str]) -> list:
    events = []
    for event in conn:
        validate(event, dialect)
        events.append(event)
        seen.append(event.type)
        if event.type == until:
            return events
    raise AssertionError(f"connection ended before {until}; saw {seen}")


def test_ga_text_and_audio_turns(cli):
    base, _ = cli
    client = OpenAI(api_key="sk-test", websocket_base_url=f"{base}/v1")
    seen: list[str] = []
    with client.realtime.connect(model="gpt-realtime", extra_query={"cassette": "text_turn_ga", "speed": "0"}) as conn:
        drain(conn, "ga", "session.created", seen)
        conn.session.update(session={"type": "realtime", "output_modalities": ["text"], "instructions": "Be brief."})
        updated = drain(conn, "ga", "session.updated", seen)[-1]
        assert updated.session.instructions == "Be brief."
        assert updated.session.audio.output.voice == "alloy"  # the full merged session, OpenAI's default voice
        conn.conversation.item.create(item={"type": "message", "role": "user",
                                            "content": [{"type": "input_text", "text": "Hi"}]})
        conn.response.create()
        events = drain(conn, "ga", "response.done", seen)
        text = "".join(e.delta for e in events if e.type == "response.output_text.delta")
        assert text == "Hello there!"
        assert events[-1].response.usage.total_tokens == 30
        assert drain(conn, "ga", "rate_limits.updated", seen)
    seen = []
    with client.realtime.connect(model="gpt-realtime", extra_query={"cassette": "audio_turn_ga", "speed": "0"}) as conn:
        drain(conn, "ga", "session.created", seen)
        conn.session.update(session={"type": "realtime", "audio": {"input": {"transcription": {"model": "whisper-1"}}}})
        drain(conn, "ga", "session.updated", seen)
        conn.input_audio_buffer.append(audio=base64.b64encode(tone(300)).decode())
        conn.input_audio_buffer.commit()
        committed = drain(conn, "ga", "input_audio_buffer.committed", seen)[-1]
        conn.response.create()
        events = drain(conn, "ga", "response.done", seen)
        transcription = [e for e in events if e.type == "conversation.item.input_audio_transcription.completed"]
        assert transcription and transcription[0].item_id == committed.item_id
        audio = b"".join(base64.b64decode(e.delta) for e in events if e.type == "response.output_audio.delta")
        assert len(audio) == 10 * 100 * 48
    assert "conversation.item.added" in seen and "conversation.item.done" in seen


def test_beta_text_and_audio_turns(cli):
    base, _ = cli
    client = OpenAI(api_key="sk-test", websocket_base_url=f"{base}/v1")
    seen: list[str] = []
    with client.beta.realtime.connect(model="step-1o-audio", extra_query={"cassette": "text_turn", "speed": "0"}) as conn:
        drain(conn, "beta", "session.created", seen)
        conn.session.update(session={"modalities": ["text"], "voice": "qingchunshaonv"})
        assert drain(conn, "beta", "session.updated", seen)[-1].session.voice == "qingchunshaonv"
        conn.conversation.item.create(item={"type": "message", "role": "user",
                                            "content": [{"type": "input_text", "text": "Hi"}]})
        conn.response.create()
        events = drain(conn, "beta", "response.done", seen)
        assert "".join(e.delta for e in events if e.type == "response.text.delta") == "Hello there!"
    with client.beta.realtime.connect(model="step-1o-audio", extra_query={"cassette": "audio_turn", "speed": "0"}) as conn:
        drain(conn, "beta", "session.created", seen)
        conn.session.update(session={"input_audio_transcription": {"model": "whisper-1"}})
        drain(conn, "beta", "session.updated", seen)
        conn.input_audio_buffer.append(audio=base64.b64encode(tone(200) + silence(100)).decode())
        conn.input_audio_buffer.commit()
        conn.response.create()
        events = drain(conn, "beta", "response.done", seen)
        assert any(e.type == "conversation.item.input_audio_transcription.completed" and e.transcript == "你好"
                   for e in events)
        assert sum(e.type == "response.audio.delta" for e in events) == 10
    assert "conversation.item.created" in seen and "response.audio_transcript.done" in seen


@pytest.mark.parametrize("model, cassette", [("gpt-realtime", "long_audio"), ("step-1o-audio", "long_audio")])
def test_sdk_cancel_truncate_and_errors_validate(cli, model, cassette):
    """Events the server computes (cancel, truncate, errors) also match the SDK models."""
    base, _ = cli
    dialect = "beta" if model.startswith("step") else "ga"
    client = OpenAI(api_key="sk-test", websocket_base_url=f"{base}/v1")
    rt = client.beta.realtime if dialect == "beta" else client.realtime
    seen: list[str] = []
    with rt.connect(model=model, extra_query={"cassette": cassette, "speed": "1"}) as conn:
        drain(conn, dialect, "session.created", seen)
        conn.response.create()
        delta = "response.audio.delta" if dialect == "beta" else "response.output_audio.delta"
        item_id = drain(conn, dialect, delta, seen)[-1].item_id
        conn.response.cancel()
        done = drain(conn, dialect, "response.done", seen)[-1]
        assert done.response.status == "cancelled"
        conn.conversation.item.truncate(item_id=item_id, content_index=0, audio_end_ms=50)
        drain(conn, dialect, "conversation.item.truncated", seen)
        conn.send({"type": "nope", "event_id": "evt_1"})
        error = drain(conn, dialect, "error", seen)[-1]
        assert error.error.param == "type" and error.error.event_id == "evt_1"
