"""Clients written the way the public guides (shared/seeds) write them, unchanged but for the URL.

* the StepFun notebook guide: websocket-client ``WebSocketApp`` on a thread, a header list,
  ``on_message`` dispatch, a whole WAV file base64-encoded into one append, server VAD on;
* the Colab article: ``websockets`` async client with the ``OpenAI-Beta`` header, 32000-byte
  pcm16 chunks, commit + response.create, reading until ``rate_limits.updated``: refused as
  OpenAI refuses it today, and working when the legacy beta is asked for (``dialect=beta``).

Where a guide sleeps to wait, these wait on an event with a timeout instead.
"""

from __future__ import annotations

import asyncio
import base64
import json
import threading
import uuid

import numpy as np
import pytest
import soundfile as sf
import websocket
import websockets

from tests.replay_fixtures import silence, tone


def test_stepfun_guide_websocket_client(cli, tmp_path):
    base, _ = cli
    url = f"{base}/v1/realtime?model=step-1o-audio&cassette=long_audio&speed=0"  # the only change: the URL
    headers = [f"Authorization: Bearer {'sk-not-a-real-key'}"]
    wav = tmp_path / "02_realtime_input.wav"
    pcm = np.frombuffer(silence(200) + tone(600) + silence(400), dtype="<i2")
    sf.write(wav, pcm, 24000, subtype="PCM_16")

    received_messages = []
    lock = threading.Lock()
    done = threading.Semaphore(0)
    opened = threading.Event()

    def on_open(ws):
        opened.set()

    def on_message(ws, message):
        data = json.loads(message)
        with lock:
            received_messages.append(data)
        if data["type"] == "response.done":
            done.release()

    ws = websocket.WebSocketApp(url, header=headers, on_open=on_open, on_message=on_message,
                                on_error=lambda ws, e: None, on_close=lambda ws, code, msg: None)
    thread = threading.Thread(target=ws.run_forever, daemon=True)
    thread.start()
    assert opened.wait(5)

    ws.send(json.dumps({"type": "session.update", "session": {
        "instructions": "你需要礼貌地回复", "voice": "qingchunshaonv", "turn_detection": {"type": "server_vad"}}}))
    ws.send(json.dumps({"type": "conversation.item.create", "item": {
        "type": "message", "role": "user", "content": [{"type": "input_text", "text": "你好，你是谁？"}]}}))
    ws.send(json.dumps({"type": "response.create", "response": {"modalities": ["text"]}}))
    assert done.acquire(timeout=5)

    with open(wav, "rb") as audio_file:  # the guide sends the whole file, header included
        audio_base64 = base64.b64encode(audio_file.read()).decode("utf-8")
    ws.send(json.dumps({"type": "input_audio_buffer.append", "audio": audio_base64}))
    ws.send(json.dumps({"type": "input_audio_buffer.commit"}))
    ws.send(json.dumps({"type": "response.create", "response": {"modalities": ["audio", "text"]}}))
    # Server VAD hears the WAV header as a click (a turn of its own, answered at once), then the
    # speech, which barges in on that answer: the second response.done is a cancellation.
    assert done.acquire(timeout=5)
    ws.close()  # as the guide does; its daemon run_forever thread notices within websocket-client's select timeout

    with lock:
        messages = list(received_messages)
    kinds = [m["type"] for m in messages]
    assert kinds[0] == "session.created" and "session.updated" in kinds
    assert kinds.count("input_audio_buffer.speech_started") == 2 and "input_audio_buffer.committed" in kinds
    first_done = kinds.index("response.done")
    assert "response.audio.delta" not in kinds[:first_done]  # modalities ["text"] honoured: no audio
    text = "".join(m["delta"] for m in messages[:first_done] if m["type"] == "response.text.delta")
    assert text == "One two three four"
    ids = [m["event_id"] for m in messages]
    assert all(uuid.UUID(i).version == 4 for i in ids) and len(set(ids)) == len(ids)  # StepFun's bare UUIDs
    assert "rate_limits.updated" not in kinds
    dones = [m["response"] for m in messages if m["type"] == "response.done"]
    assert dones[1]["status_details"] == {"type": "cancelled", "reason": "turn_detected"}
    # the guide's manual commit and response.create come after VAD did both: real errors, the session lives on
    assert all(m["error"]["code"] in ("input_audio_buffer_commit_empty", "conversation_already_has_active_response",
                                      "no_recorded_response") for m in messages if m["type"] == "error")


def test_colab_guide_websockets_client(cli):
    base, _ = cli

    def float_to_pcm16(float32_array):
        return np.clip(float32_array * 32767, -32768, 32767).astype(np.int16).tobytes()

    def float32_to_base64_chunks(float32_array, chunk_size=32000):
        pcm16_data = float_to_pcm16(float32_array)
        for i in range(0, len(pcm16_data), chunk_size):
            yield base64.b64encode(pcm16_data[i:i + chunk_size]).decode("utf-8")

    async def stream_audio_to_realtime_api(data, text_prompt, openai_key, query=""):
        url = f"{base}/v1/realtime?model=gpt-4o-realtime-preview-2024-10-01&cassette=audio_turn&speed=0{query}"
        headers = {"Authorization": "Bearer " + openai_key, "OpenAI-Beta": "realtime=v1"}
        async with websockets.connect(url, additional_headers=headers) as ws:  # websockets >= 14 name
            await ws.send(json.dumps({
                "type": "conversation.item.create",
                "item": {"type": "message", "role": "user", "content": [{"type": "input_text", "text": text_prompt}]}
            }))
            for chunk in float32_to_base64_chunks(data):
                await ws.send(json.dumps({"type": "input_audio_buffer.append", "audio": chunk}))
            await ws.send(json.dumps({"type": "input_audio_buffer.commit"}))
            await ws.send(json.dumps({"type": "response.create"}))
            all_events, transcript = [], None
            while True:
                event = json.loads(await ws.recv())
                all_events.append(event)
                if event["type"] == "response.output_item.done" and "item" in event and "content" in event["item"]:
                    for content in event["item"]["content"]:
                        if content["type"] == "audio" and "transcript" in content:
                            transcript = content["transcript"]
                            break
                if event["type"] == "rate_limits.updated":
                    break
            return all_events, transcript

    data = np.frombuffer(tone(1500), dtype="<i2").astype(np.float32) / 32767
    with pytest.raises(websockets.ConnectionClosedError) as closed:  # what the 2024 guide gets from OpenAI today
        asyncio.run(asyncio.wait_for(stream_audio_to_realtime_api(data, "Summarize", "sk-not-a-real-key"), 10))
    assert (closed.value.rcvd.code, closed.value.rcvd.reason) == (4000, "invalid_request_error.beta_api_shape_disabled")
    events, transcript = asyncio.run(asyncio.wait_for(stream_audio_to_realtime_api(
        data, "Summarize this audio content", "sk-not-a-real-key", "&dialect=beta"), 10))
    assert transcript == "Hello there!"
    assert sum(e["type"] == "response.audio.delta" for e in events) == 10
