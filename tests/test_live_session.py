"""helpers.live_session: voice turns driven by a file "microphone" and the virtual player, against the replay server."""

from __future__ import annotations

import math
import threading
from pathlib import Path

import pytest

import helpers
from helpers import cassette, catalogue
from helpers import events as ev
from helpers.audio import load_audio, to_pcm16
from helpers.live import FileSource, VoiceSession
from helpers.player import VirtualPlayer
from helpers.replay import serve_in_background
from helpers.report import turn_report

ROOT = Path(__file__).resolve().parent.parent
MEDIA = ROOT / "media"
CASSETTES = MEDIA / "cassettes"
VAD = ev.server_vad(prefix_padding_ms=300, silence_duration_ms=500, energy_awakeness_threshold=2500,
                    create_response=True, interrupt_response=True)


def vad_barge_in_cassette(folder: Path) -> None:
    """13_barge_in from its server-VAD update on: a spoken request, a long answer, a barge-in."""
    recorded = cassette.load(CASSETTES / "13_barge_in.jsonl")
    start = next(i for i, f in enumerate(recorded.frames)
                 if f.event and f.event.get("type") == "session.update" and f.event["session"].get("turn_detection"))
    frames = [recorded.frames[0]] + recorded.frames[start:]
    cassette.save(cassette.Cassette({**recorded.meta, "name": "live_vad_barge_in"}, frames),
                  folder / "live_vad_barge_in.jsonl")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cassettes")
    for name in ("01_connect", "12_live_conversation", "11_relay_service", "15_reasoning", "15_reasoning_stepfun"):
        (folder / f"{name}.jsonl").write_bytes((CASSETTES / f"{name}.jsonl").read_bytes())
    vad_barge_in_cassette(folder)
    with serve_in_background(folder) as background:
        yield background


def open_client(server, cassette_name: str, dialect: str = "beta", speed: float = 0, vad: bool = False,
                model: str | None = None):
    model = model or catalogue.default_model("openai" if dialect == "ga" else "stepfun")  # the model picks the persona
    client = helpers.connect("replay", cassette=cassette_name, url=server.url, model=model, log=False, speed=speed)
    client.send(ev.session_update(ev.session_config(
        client.dialect, instructions="You are a friendly voice assistant.", voice=ev.default_voice(client.dialect),
        transcription=None if vad else ev.default_transcription(client.dialect), turn_detection=VAD if vad else None)))
    client.wait_for("session.updated")
    return client


def sent_types(client) -> list[str]:
    return [f.event["type"] for f in client.history if f.source == "client"]


def received(client, kind: str) -> list[dict]:
    names = ev.aliases(kind)
    return [f.event for f in client.history if f.source == "server" and f.event and f.event["type"] in names]


class FirstAudio:
    """An on_change callback that sets `arrived` when the first answer audio is received."""

    def __init__(self):
        self.arrived = threading.Event()

    def __call__(self, voice, event):
        if event.get("type") in ev.aliases("response.audio.delta"):
            self.arrived.set()


@pytest.mark.parametrize("dialect", ["beta", "ga"])
def test_push_to_talk_turn_streams_the_file_commits_and_plays_the_answer(server, dialect):
    with open_client(server, "12_live_conversation", dialect) as client, VirtualPlayer() as player, \
            VoiceSession(client, player) as voice:
        response = voice.talk(FileSource(MEDIA / "question_en.wav", chunk_ms=100))

        assert response["status"] == "completed"
        seconds = len(load_audio(MEDIA / "question_en.wav", verbose=False)) / 24000
        assert sent_types(client)[1:] == (["input_audio_buffer.append"] * math.ceil(seconds * 10)
                                          + ["input_audio_buffer.commit", "response.create"])
        answer = voice.conversation.items[-1]
        assert answer.transcript.startswith("Sure! An octopus has three hearts")
        assert player.played_ms + player.buffered_ms == pytest.approx(answer.audio_ms)

        report = turn_report(voice.conversation)
        assert report.response_id == response["id"]
        assert report.measured_from == "response.create sent"
        assert report.first_audio_ms is not None and report.first_transcript_ms is not None
        assert report.output_audio_tokens > 0 and report.cost.currency == ("CNY" if dialect == "beta" else "USD")


def test_pressing_after_the_answer_arrived_truncates_at_the_played_position(server):
    clock = [0.0]
    with open_client(server, "11_relay_service") as client, VirtualPlayer(clock=lambda: clock[0]) as player, \
            VoiceSession(client, player) as voice:
        voice.talk(FileSource(MEDIA / "question_en.wav"))
        answer = voice.conversation.items[-1]
        clock[0] = 1.0                                         # 1 s of the answer has played

        voice.press(FileSource(MEDIA / "followup_en.wav"))
        assert player.buffered_ms == 0                         # the rest of the answer is dropped
        response = voice.release().wait()

        played = math.floor(player.item_played_ms(answer.id))  # 1 s, plus the 8 ms fade-out
        assert 1000 <= played <= 1008
        assert voice.truncations == [ev.item_truncate(answer.id, played)]
        assert "response.cancel" not in sent_types(client)     # the answer had finished: nothing to cancel
        assert received(client, "conversation.item.truncated")[0]["audio_end_ms"] == played
        assert response["status"] == "completed"
        cut = voice.conversation.item(answer.id)
        assert cut.truncated and cut.remembered_text is None
        assert voice.conversation.items[-1].transcript.startswith("It has three hearts")


def test_pressing_while_the_answer_streams_cancels_then_truncates(server):
    first_audio = FirstAudio()
    with open_client(server, "11_relay_service", speed=1) as client, VirtualPlayer() as player, \
            VoiceSession(client, player, on_change=first_audio) as voice:
        turn = voice.send_audio(FileSource(MEDIA / "question_en.wav"))
        assert first_audio.arrived.wait(10)

        second = voice.send_audio(FileSource(MEDIA / "followup_en.wav"))
        cancelled = turn.wait()
        answer = second.wait()

        assert cancelled["status"] == "cancelled"
        assert cancelled["status_details"]["reason"] == "client_cancelled"
        types = sent_types(client)
        assert types.index("response.cancel") < types.index("conversation.item.truncate")
        truncated = received(client, "conversation.item.truncated")[0]
        assert truncated["audio_end_ms"] == voice.truncations[0]["audio_end_ms"]
        assert answer["status"] == "completed"


def test_server_vad_barge_in_truncates_and_lets_the_server_cancel(server):
    first_audio = FirstAudio()
    with open_client(server, "live_vad_barge_in", speed=1, vad=True) as client, VirtualPlayer() as player, \
            VoiceSession(client, player, on_change=first_audio) as voice:
        assert voice.vad
        assert voice.send_audio(FileSource(MEDIA / "vad_utterance.wav")) is None  # the server commits
        assert first_audio.arrived.wait(10)

        voice.send_audio(FileSource(MEDIA / "barge_in.wav"))
        cancelled = voice.wait_responses(1)
        answer = voice.wait_responses(2)

        assert cancelled["status_details"]["reason"] == "turn_detected"
        assert "response.cancel" not in sent_types(client)
        assert len(voice.truncations) == 1
        assert received(client, "conversation.item.truncated")[0]["item_id"] == voice.truncations[0]["item_id"]
        assert answer["status"] == "completed"
        assert "lighthouse" in voice.conversation.items[-1].transcript


def test_a_clip_sent_whole_is_answered(server):
    clip = to_pcm16(load_audio(MEDIA / "question_en.wav", verbose=False))
    with open_client(server, "12_live_conversation") as client, VirtualPlayer() as player, \
            VoiceSession(client, player) as voice:
        response = voice.send_clip(clip).wait()
        assert response["status"] == "completed"
        assert sent_types(client)[1:] == ["conversation.item.create", "response.create"]
        assert turn_report(voice.conversation).response_id == response["id"]


def test_a_press_too_short_to_commit_clears_the_buffer(server):
    with open_client(server, "12_live_conversation") as client, VirtualPlayer() as player, \
            VoiceSession(client, player) as voice:
        voice.press(FileSource(bytes(48 * 60)))
        assert voice.release() is None
        assert sent_types(client)[-1] == "input_audio_buffer.clear"
        with pytest.raises(ValueError, match="less than 100 ms of audio"):
            voice.talk(FileSource(bytes(48 * 60)))


def test_a_server_error_ends_the_turn_with_its_code(server):
    clip = bytes(48 * 500)
    with open_client(server, "01_connect") as client, VirtualPlayer() as player, \
            VoiceSession(client, player) as voice:
        with pytest.raises(helpers.RealtimeServerError) as caught:
            voice.send_clip(clip).wait(timeout=5)
        assert caught.value.code == "no_recorded_response"


def test_bad_input_is_refused_clearly(server):
    with open_client(server, "01_connect") as client, VirtualPlayer() as player, \
            VoiceSession(client, player) as voice:
        with pytest.raises(RuntimeError, match="without press"):
            voice.release()
        with pytest.raises(ValueError, match="at least 100 ms"):
            voice.send_clip(b"")
    with pytest.raises(RuntimeError, match="closed"):
        voice.press(FileSource(bytes(4800)))


def test_a_preamble_and_its_answer_both_play_and_a_barge_in_truncates_each_at_what_was_heard(server):
    clock = [0.0]
    with open_client(server, "15_reasoning", "ga") as client, VirtualPlayer(clock=lambda: clock[0]) as player, \
            VoiceSession(client, player) as voice:
        response = voice.talk(FileSource(MEDIA / "question_en.wav"))
        preamble, answer = (voice.conversation.item(i) for i in voice.conversation.responses[response["id"]].output)
        assert preamble.role == answer.role == "assistant" and preamble.transcript.startswith("Good question")
        assert player.buffered_ms == pytest.approx(preamble.audio_ms + answer.audio_ms)   # both queued, in order
        clock[0] = 0.5                                          # half a second of the preamble heard

        voice.press(FileSource(MEDIA / "followup_en.wav"))
        voice.release().wait()

        assert [(t["item_id"], t["audio_end_ms"]) for t in voice.truncations] == [
            (preamble.id, math.floor(player.item_played_ms(preamble.id))), (answer.id, 0)]
        assert 500 <= voice.truncations[0]["audio_end_ms"] <= 508   # plus the 8 ms fade-out
        truncated = {e["item_id"]: e["audio_end_ms"] for e in received(client, "conversation.item.truncated")}
        assert truncated == {t["item_id"]: t["audio_end_ms"] for t in voice.truncations}


def test_a_fully_heard_preamble_is_left_whole_when_the_answer_is_cut(server):
    clock = [0.0]
    with open_client(server, "15_reasoning", "ga") as client, VirtualPlayer(clock=lambda: clock[0]) as player, \
            VoiceSession(client, player) as voice:
        response = voice.talk(FileSource(MEDIA / "question_en.wav"))
        preamble, answer = voice.conversation.responses[response["id"]].output
        clock[0] = voice.conversation.item(preamble).audio_ms / 1000 + 1.0   # the preamble, then 1 s of the answer

        voice.interrupt()

        assert [t["item_id"] for t in voice.truncations] == [answer]
        assert 1000 <= voice.truncations[0]["audio_end_ms"] <= 1008


def test_stepfun_thinking_reaches_the_listeners_and_is_kept_per_response(server):
    seen = []
    with open_client(server, "15_reasoning_stepfun", model="step-audio-r1.1") as client, VirtualPlayer() as player, \
            VoiceSession(client, player, on_change=lambda voice, event: seen.append(event["type"])) as voice:
        response = voice.talk(FileSource(MEDIA / "question_en.wav"))

        done = received(client, "response.thinking.done")[0]
        assert voice.thinking == {response["id"]: done["thinking"]}
        assert done["thinking"].startswith("The user asks about the colour of the sky")
        assert seen.count("response.thinking.delta") == len(received(client, "response.thinking.delta")) > 1
        assert seen.index("response.thinking.done") < seen.index("response.done")
