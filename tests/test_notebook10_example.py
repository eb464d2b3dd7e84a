"""Replay a recorded session in a test: the example that notebook 10 shows and runs.

The cassette comes from $REALTIME_CASSETTES (default: the shipped media/cassettes), so the same
test checks a session you recorded yourself:

    REALTIME_CASSETTES=output/recorded pytest tests/test_notebook10_example.py
"""

import helpers
from helpers import cassette, events
from helpers.replay import default_cassettes, serve_in_background

NAME = "10_record_and_replay"
INSTRUCTIONS = "You are a friendly voice assistant. Keep your answers short and clear."


def transcript_of(response: dict) -> str:
    """The words of a finished response: the transcript (or text) of its message items."""
    return " ".join(part.get("transcript") or part.get("text") or ""
                    for item in response["output"] if item["type"] == "message"
                    for part in item["content"])


def say_hello(client) -> str:
    """The code under test: one typed turn with a spoken answer; returns the words."""
    client.wait_for("session.created")
    client.send(events.session_update(events.session_config(
        client.dialect, instructions=INSTRUCTIONS, turn_detection=None)))
    client.wait_for("session.updated")
    client.send(events.user_text("Say hello in one short sentence."))
    client.wait_for("conversation.item.created")
    client.send(events.response_create())
    return transcript_of(client.wait_for("response.done", timeout=15)["response"])


def recorded_answer(path) -> str:
    """What the model said in the recording: the transcript in its first response.done."""
    done = next(frame.event for frame in cassette.load(path).frames
                if frame.event and frame.event.get("type") == "response.done")
    return transcript_of(done["response"])


def test_replay_gives_the_recorded_answer():
    with serve_in_background(speed=0) as server:          # speed 0: no recorded pauses
        with helpers.connect("replay", cassette=NAME, url=server.url) as client:
            answer = say_hello(client)
    assert answer == recorded_answer(default_cassettes() / f"{NAME}.jsonl")
    report = server.reports[-1]                           # complete once the server has stopped
    assert report["responses_left"] == 0, report
    assert report["errors_sent"] == [], report
