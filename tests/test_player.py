"""helpers.player: position against the clock, prebuffer, interrupt and truncate, both players."""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from helpers.audio import ms_to_bytes, to_pcm16
from helpers.player import BLOCK_MS, FADE_MS, PREBUFFER_MS, VirtualPlayer, _Playback, open_player, truncate_event
from tests.fresh_python import run_python

ROOT = Path(__file__).resolve().parents[1]


class FakeClock:
    """A clock the test moves by hand."""

    def __init__(self):
        self.now = 100.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def tone(ms: float, amplitude: float = 0.5) -> bytes:
    n = ms_to_bytes(ms) // 2
    return to_pcm16((amplitude * np.sin(2 * np.pi * 440 * np.arange(n) / 24_000)).astype(np.float32))


@pytest.fixture
def clock():
    return FakeClock()


# -- the virtual player against the clock ----------------------------------------------

def test_played_position_stays_within_one_block_of_the_clock(clock):
    player = VirtualPlayer(clock=clock)
    player.feed(tone(3000), item_id="item_a")
    elapsed = 0.0
    for step in np.random.default_rng(1).uniform(0.001, 0.2, 25):
        clock.advance(step)
        elapsed += step
        expected = min(elapsed * 1000, 3000)
        assert expected - BLOCK_MS <= player.played_ms <= expected
    assert player.item_played_ms("item_a") == player.played_ms


def test_the_prebuffer_holds_audio_back_until_full(clock):
    player = VirtualPlayer(prebuffer_ms=80, clock=clock)
    player.feed(tone(40))
    clock.advance(0.040)
    assert player.played_ms == 0 and player.buffered_ms == 40
    player.feed(tone(40))                       # now 80 ms queued: playback starts with the next block
    clock.advance(0.020)
    assert player.played_ms == 20


def test_a_short_tail_plays_after_waiting_one_prebuffer_length(clock):
    player = VirtualPlayer(prebuffer_ms=80, clock=clock)
    player.feed(tone(30))
    clock.advance(0.079)
    assert player.played_ms == 0                # 4 blocks of silence: waited one prebuffer length
    clock.advance(0.021)
    assert player.played_ms == 20
    clock.advance(0.020)
    assert player.played_ms == 30 and player.buffered_ms == 0


def test_an_underrun_refills_the_prebuffer_before_resuming(clock):
    player = VirtualPlayer(prebuffer_ms=80, clock=clock)
    player.feed(tone(100))
    clock.advance(0.5)
    assert player.played_ms == 100
    player.feed(tone(200))
    clock.advance(0.020)
    assert player.played_ms == 120              # 200 ms queued >= prebuffer: resumes at once
    clock.advance(10)
    player.feed(tone(40))
    clock.advance(0.040)
    assert player.played_ms == 300              # 40 ms < prebuffer: held back


def test_idle_time_costs_nothing(clock):
    player = VirtualPlayer(clock=clock)
    clock.advance(3600 * 24)
    started = time.perf_counter()
    player.feed(tone(100))
    clock.advance(0.1)
    assert player.played_ms == 100
    assert time.perf_counter() - started < 0.1


# -- interrupt and truncate ------------------------------------------------------------

def test_interrupt_stops_fades_and_reports_the_items_position(clock):
    player = VirtualPlayer(clock=clock)
    player.feed(tone(500), item_id="item_1")
    player.feed(tone(500), item_id="item_1")
    clock.advance(0.300)
    position = player.interrupt()
    assert position == 300 + FADE_MS            # what was heard, fade included
    clock.advance(5)
    assert player.played_ms == position and player.buffered_ms == 0
    assert player.feed(tone(100), item_id="item_1") is False   # a late delta of the cut item
    assert player.truncate_event() == {"type": "conversation.item.truncate", "item_id": "item_1",
                                       "content_index": 0, "audio_end_ms": 308}
    assert player.feed(tone(100), item_id="item_2") is True    # the next answer plays
    clock.advance(1)
    assert player.item_played_ms("item_2") == 100
    assert player.current_item == "item_2"


def test_interrupt_position_is_per_item(clock):
    player = VirtualPlayer(clock=clock)
    player.feed(tone(200), item_id="first")
    player.feed(tone(400), item_id="second")
    clock.advance(0.300)
    assert player.interrupt() == 100 + FADE_MS
    assert player.item_played_ms("first") == 200
    assert player.truncate_event("second")["audio_end_ms"] == 108


def test_interrupt_before_anything_played(clock):
    player = VirtualPlayer(clock=clock)
    player.feed(tone(40), item_id="item_x")     # still in the prebuffer
    assert player.interrupt() == 0
    assert player.truncate_event("item_x")["audio_end_ms"] == 0
    with pytest.raises(ValueError, match="no item to truncate"):
        VirtualPlayer(clock=clock).truncate_event()


def test_the_fade_out_ramps_to_silence_without_a_jump():
    core = _Playback(prebuffer_ms=0)
    loud = np.full(24_000, 20_000, dtype="<i2").tobytes()
    core.feed(loud, None)
    assert core.pull(960) == loud[:960]
    core.interrupt()
    block = np.frombuffer(core.pull(960), dtype="<i2").astype(int)
    fade = block[:FADE_MS * 24]
    assert fade[0] > 19_000 and abs(fade[-1]) <= 1          # starts at the level, ends at silence
    assert np.all(np.diff(fade) <= 0)                        # monotone: no click
    assert np.abs(np.diff(fade)).max() < 20_000 * 0.05       # small steps
    assert not block[FADE_MS * 24:].any()
    assert not any(core.pull(960))


def test_truncate_event_clamps_to_the_audio_received():
    assert truncate_event("item_1", 1234.9, 5000)["audio_end_ms"] == 1234
    assert truncate_event("item_1", 2535, 2450.7)["audio_end_ms"] == 2450   # never beyond
    assert truncate_event("item_1", 0, 1000)["audio_end_ms"] == 0            # nothing played yet
    assert truncate_event("item_1", 100, 0)["audio_end_ms"] == 0             # nothing received
    assert truncate_event("item_1", 10, 20, content_index=1)["content_index"] == 1


def test_truncate_event_rejects_bad_input():
    with pytest.raises(ValueError, match="item_id"):
        truncate_event("", 10, 10)
    with pytest.raises(ValueError, match="item_id"):
        truncate_event(None, 10, 10)
    with pytest.raises(ValueError, match="played_ms must be >= 0"):
        truncate_event("item_1", -1, 10)
    with pytest.raises(ValueError, match="received_ms must be >= 0"):
        truncate_event("item_1", 1, float("nan"))
    with pytest.raises(TypeError, match="played_ms must be a number"):
        truncate_event("item_1", "10", 10)


# -- waiting ---------------------------------------------------------------------------

def test_wait_done_waits_for_real_time_playback():
    player = VirtualPlayer()
    player.feed(tone(200))
    started = time.monotonic()
    assert player.wait_done(timeout=5) == 200
    assert time.monotonic() - started >= 0.2 - BLOCK_MS / 1000


def test_wait_done_flushes_a_short_prebuffer():
    player = VirtualPlayer(prebuffer_ms=PREBUFFER_MS)
    player.feed(tone(30))
    assert player.wait_done(timeout=2) == 30


def test_wait_done_times_out_with_a_clear_error(clock):
    player = VirtualPlayer(clock=clock)
    player.feed(tone(1000))
    clock.advance(0.25)
    started = time.monotonic()
    with pytest.raises(TimeoutError, match="not finished within 0.05 s: 240 ms played, 760 ms still queued"):
        player.wait_done(timeout=0.05)
    assert time.monotonic() - started < 1


def test_interrupt_from_another_thread_ends_wait_done():
    player = VirtualPlayer()
    player.feed(tone(5000))
    timer = threading.Timer(0.1, player.interrupt)
    timer.start()
    started = time.monotonic()
    played = player.wait_done(timeout=5)
    timer.join()
    assert time.monotonic() - started < 1
    assert 50 <= played < 400


def test_close_and_bad_feeds():
    with VirtualPlayer() as player:
        with pytest.raises(TypeError, match="decode the base64 delta first"):
            player.feed("AAAA")
        with pytest.raises(ValueError, match="odd number of bytes"):
            player.feed(b"\x00" * 3)
        with pytest.raises(TypeError, match="item_id"):
            player.feed(b"\x00\x00", item_id=7)
    with pytest.raises(RuntimeError, match="closed"):
        player.feed(b"\x00\x00")
    assert player.wait_done(0.1) == 0
    assert repr(player) == "VirtualPlayer(closed, played 0 ms, queued 0 ms)"
    with pytest.raises(ValueError, match="prebuffer_ms"):
        VirtualPlayer(prebuffer_ms=-1)


# -- choosing a player -----------------------------------------------------------------

def test_open_player_virtual_and_bad_choice(capsys):
    player = open_player("virtual")
    assert type(player) is VirtualPlayer
    assert capsys.readouterr().out == ""
    with pytest.raises(ValueError, match="'auto', 'pyaudio' or 'virtual'"):
        open_player("speakers")




def test_auto_falls_back_to_virtual_without_pyaudio_in_one_line():
    result = run_python("""
        import sys
        sys.modules["pyaudio"] = None                    # as on a machine without pyaudio
        from helpers.player import open_player
        print(type(open_player()).__name__)
        try:
            open_player("pyaudio")
        except RuntimeError as exc:
            print(exc)
    """)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "pyaudio is not installed (pip install pyaudio; it needs portaudio19-dev): "
        "using the silent VirtualPlayer (it plays against the clock)",
        "VirtualPlayer",
        "cannot play on the sound card: pyaudio is not installed (pip install pyaudio; it needs portaudio19-dev) "
        "(use prefer='virtual' or 'auto')",
    ]
    assert result.stderr == ""


@pytest.fixture
def alsa_capture_home(tmp_path):
    """A HOME whose ALSA default device writes what it is given to a file (no sound card needed)."""
    pytest.importorskip("pyaudio")
    if not sys.platform.startswith("linux"):
        pytest.skip("the capture device is an ALSA plugin")
    capture = tmp_path / "played.raw"
    (tmp_path / ".asoundrc").write_text(
        f'pcm.!default {{ type file slave.pcm "null" file "{capture}" format "raw" }}\n')
    return tmp_path, capture


def test_pyaudio_player_plays_exactly_what_was_fed(alsa_capture_home):
    home, capture = alsa_capture_home
    result = run_python("""
        import numpy as np
        from helpers.audio import to_pcm16
        from helpers.player import open_player
        player = open_player()
        print(type(player).__name__)
        audio = to_pcm16((0.5 * np.sin(np.arange(7200) / 5)).astype(np.float32))
        player.feed(audio[:4800], item_id="item_1")
        player.feed(audio[4800:], item_id="item_1")
        print(player.wait_done(timeout=10), player.item_played_ms("item_1"))
        print(player.truncate_event()["audio_end_ms"])
        player.close()
        open("audio.raw", "wb").write(audio)
    """.replace('"audio.raw"', repr(str(home / "fed.raw"))), home=home)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["PyAudioPlayer", "300.0 300.0", "300"]
    assert result.stderr == ""                      # PortAudio's probe noise is silenced
    fed = (home / "fed.raw").read_bytes()
    played = capture.read_bytes()
    start = played.find(fed[:200])
    assert start >= 0 and played[start:start + len(fed)] == fed
    assert not any(played[:start]) and not any(played[start + len(fed):])   # silence around it
