"""helpers.cassette: the JSONL format itself (the shipped cassettes are checked in tests/test_cassettes.py)."""

from __future__ import annotations

import json
import re

import pytest

from helpers.cassette import SCRUBBED, Cassette, CassetteWriter, Frame, dumps, load, parse, save, scrub

META = {"cassette": 1, "name": "unit", "provider": "openai", "dialect": "ga", "model": "gpt-realtime"}
KEY = "sk-proj-" + "Zq7Lm2Vb9TkR4wN1pYc8Hd3Jf6GsAeXu"


def sample() -> Cassette:
    return Cassette(dict(META), [Frame(0.0, "server", {"type": "session.created"}),
                                 Frame(0.41234, "client", {"type": "response.create"}),
                                 Frame(1.5, "server", close={"code": 1000, "reason": ""})])


def test_save_and_load_round_trip_byte_for_byte(tmp_path):
    path = save(sample(), tmp_path / "sub" / "unit.jsonl")
    again = load(path)
    assert again.meta == META and [f.to_json() for f in again.frames] == [f.to_json() for f in sample().frames]
    assert again.frames[1].t == 0.412                        # milliseconds on disk
    assert [i for i, _ in again.server_events()] == [2]       # line 1 is the metadata; a close is no event
    assert dumps(again) == path.read_text(encoding="utf-8")


def test_secrets_are_scrubbed_on_write(tmp_path):
    event = {"type": "session.update", "headers": {"Authorization": "Bearer " + KEY},
             "url": f"wss://x/?api_key={KEY}&model=m", "note": f"my key is {KEY}", "other": "hunter2-secret"}
    text = dumps(Cassette(dict(META), [Frame(0.0, "client", event)]), secrets=("hunter2-secret",))
    assert KEY not in text and "hunter2" not in text
    written = json.loads(text.splitlines()[1])["event"]
    assert written["headers"]["Authorization"] == SCRUBBED and written["other"] == SCRUBBED
    assert written["url"] == f"wss://x/?api_key={SCRUBBED}&model=m"
    assert scrub({"n": 3, "list": [KEY]}) == {"n": 3, "list": [SCRUBBED]}


def test_the_writer_flushes_each_line_and_records_the_close(tmp_path):
    writer = CassetteWriter(tmp_path / "live.jsonl", {k: v for k, v in META.items() if k != "cassette"},
                            secrets=(KEY,))
    writer.add(0.1, "client", {"type": "session.update", "session": {"instructions": KEY}})
    assert len(writer.path.read_text(encoding="utf-8").splitlines()) == 2   # readable before close
    writer.close(2.0, 1000, "bye")
    writer.close(3.0, 1000, "again")                                        # a second close is a no-op
    cassette = load(writer.path)
    assert cassette.frames[0].event["session"]["instructions"] == SCRUBBED
    assert cassette.frames[-1].close == {"code": 1000, "reason": "bye"} and len(cassette.frames) == 2


@pytest.mark.parametrize(("lines", "message"), [
    ([], "empty cassette"),
    (["not json"], ":1: metadata is not JSON"),
    ([json.dumps({**META, "cassette": 2})], '"cassette": 1'),
    ([json.dumps({**META, "dialect": "alpha"})], "dialect must be 'beta' or 'ga'"),
    ([json.dumps(META), '{"t": 0, "from": "proxy", "event": {}}'], ":2: bad frame ('from' must be"),
    ([json.dumps(META), "", '{"t": 0, "from": "server"}'], ":3: bad frame (a frame needs exactly one"),
])
def test_malformed_cassettes_are_refused_naming_the_line(lines, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        parse(lines, where="x")


def test_a_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="no cassette at"):
        load(tmp_path / "nope.jsonl")
