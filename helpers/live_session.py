"""The voice controller: push-to-talk (or server-VAD) turns on a client, played on a player, with barge-in.

`VoiceSession` takes an audio *source* (`helpers.live_sources`) and a *player* (`helpers.player`)
and drives a `RealtimeClient`:

* push-to-talk: `press(source)` streams ``input_audio_buffer.append`` while you speak;
  `release()` sends ``input_audio_buffer.commit`` + ``response.create`` and returns a
  `LiveTurn` to wait on. With server VAD on, the server commits and answers by itself.
* a whole clip at once (Colab, where the kernel has no microphone): `send_clip(pcm16)`.
* barge-in: pressing while the answer plays stops the player, sends ``response.cancel`` (if the
  response is still running) and ``conversation.item.truncate`` at the position actually played.
  With server VAD, ``input_audio_buffer.speech_started`` does the same (the server cancels).
* reasoning: a StepFun ``response.thinking.*`` stream is kept in `thinking` (per response); an
  OpenAI preamble is a second assistant item of the same response, played before the answer
  (both are queued on the player, and a barge-in truncates each at what was heard of it).

A background thread owns the client's receive side while the session is open: it feeds audio
deltas to the player and tracks the running response. The conversation itself is the client
core's (`client.conversation`), so ``turn_report(voice.conversation)`` works after any response.
Close the session (or use ``with``) before calling ``client.wait_for`` yourself again.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from . import events as ev
from .audio import decode_delta
from .errors import RealtimeConnectionClosed, RealtimeServerError, RealtimeTimeout
from .personas import BYTES_PER_MS, MIN_COMMIT_MS, aliases, convert_session
from .player import Player

if TYPE_CHECKING:
    from .client import RealtimeClient
    from .conversation import Conversation

__all__ = ["LiveTurn", "VoiceSession"]

RECEIVE_POLL_S = 0.2      # the receive thread checks for close() this often while idle
_AUDIO_DELTAS = aliases("response.audio.delta")
_THINKING_DELTA = "response.thinking.delta"     # StepFun reasoning models
_BENIGN_ERRORS = {"response_cancel_not_active"}   # a cancel that raced the response's end


class LiveTurn:
    """One turn of a `VoiceSession`: `wait()` returns its answer (the ``response`` of ``response.done``)."""

    def __init__(self, voice: VoiceSession, errors_before: int, sent_ms: float):
        self.voice = voice
        self.sent_ms = sent_ms              # audio sent for this turn
        self.response_id: str | None = None  # set when the server's response.created arrives
        self._errors_before = errors_before

    def wait(self, timeout: float = 30.0) -> dict:
        """Wait for the answer to finish; raises RealtimeServerError, RealtimeTimeout or RealtimeConnectionClosed."""
        return self.voice._wait_turn(self, timeout)

    def __repr__(self) -> str:
        return f"LiveTurn({self.response_id or 'response not created yet'}, {self.sent_ms / 1000:.1f} s of audio sent)"


class VoiceSession:
    """Push-to-talk (or server-VAD) voice turns on `client`, played on `player`, with barge-in.

    `on_change(voice, event)` is called on the receive thread after each server event (for views).
    """

    def __init__(self, client: RealtimeClient, player: Player, *,
                 on_change: Callable[[VoiceSession, dict], None] | None = None):
        self.client = client
        self.player = player
        self.on_change = on_change
        self.responses: list[dict] = []               # each finished response (response.done)
        self._turns: list[LiveTurn] = []              # turns whose response.created has not arrived
        self.errors: list[RealtimeServerError] = []
        self.truncations: list[dict] = []             # conversation.item.truncate events sent
        self._cond = threading.Condition()
        self._active: str | None = None               # the running response's id
        self.thinking: dict[str, str] = {}            # response id -> its thinking so far (StepFun)
        self._audio_items: list[str] = []             # assistant items with audio since the last barge-in
        self._source: Iterable[bytes] | None = None
        self._sender: threading.Thread | None = None
        self._sent_bytes = 0
        self._send_error: BaseException | None = None
        self._closed = threading.Event()
        self._connection_lost: RealtimeConnectionClosed | None = None
        self._receiver = threading.Thread(target=self._receive, name="voice-receive", daemon=True)
        self._receiver.start()

    # -- reading --

    @property
    def conversation(self) -> Conversation:
        """The conversation so far, kept by the client's core (pass it to `turn_report`)."""
        return self.client.conversation

    @property
    def vad(self) -> bool:
        """True when the session has server VAD on (the server commits and answers by itself)."""
        return bool(convert_session(self.client.session or {}, "beta").get("turn_detection"))

    @property
    def answering(self) -> bool:
        """True while a response runs or its audio is still playing."""
        with self._cond:
            return self._active is not None or self.player.buffered_ms > 0

    # -- speaking --

    def press(self, source: Iterable[bytes]) -> None:
        """Start speaking: stream `source`'s pcm16 chunks as appends (barging in on a playing answer)."""
        if self._sender is not None:
            raise RuntimeError("already speaking: release() first")
        self._check_open()
        if not self.vad and self.answering:
            self.interrupt()
        self._source, self._sent_bytes, self._send_error = source, 0, None
        self._sender = threading.Thread(target=self._send_audio, args=(source,), name="voice-send", daemon=True)
        self._sender.start()

    def release(self, timeout: float = 10.0) -> LiveTurn | None:
        """Stop speaking; without VAD, commit and ask for the answer. None when nothing is to be answered.

        Less than 100 ms of audio is not committed: the buffer is cleared and None returned.
        """
        if self._sender is None:
            raise RuntimeError("release() without press(): nothing is being recorded")
        stop = getattr(self._source, "stop", None)
        if stop is not None:
            stop()
        self._sender.join(timeout)
        if self._sender.is_alive():
            raise RealtimeTimeout(["the audio source to stop"], timeout, [])
        self._sender, self._source = None, None
        if self._send_error is not None:
            raise self._send_error
        sent_ms = self._sent_bytes / BYTES_PER_MS
        if self.vad:
            return None
        if sent_ms < MIN_COMMIT_MS:
            self.client.send(ev.input_audio_clear())
            return None
        turn = self._new_turn(sent_ms)
        self.client.send(ev.input_audio_commit())
        self.client.send(ev.response_create())
        return turn

    def send_audio(self, source: Iterable[bytes], timeout: float = 30.0) -> LiveTurn | None:
        """Send all of `source` (a file standing in for speech), then release: press, wait, release."""
        self.press(source)
        sender = self._sender
        assert sender is not None  # press() started it
        sender.join(timeout)
        if sender.is_alive():
            raise RealtimeTimeout(["the audio source to end"], timeout, [])
        return self.release()

    def talk(self, source: Iterable[bytes], timeout: float = 30.0) -> dict:
        """A whole push-to-talk turn: send all of `source`, commit, and wait for the answer."""
        turn = self.send_audio(source, timeout)
        if turn is None:
            raise ValueError(f"no turn to wait for: less than {MIN_COMMIT_MS} ms of audio, or server VAD is on")
        return turn.wait(timeout)

    def send_clip(self, pcm16: bytes) -> LiveTurn:
        """Send a whole recording as one user item and ask for the answer (barging in if one plays)."""
        if not isinstance(pcm16, (bytes, bytearray)) or len(pcm16) < MIN_COMMIT_MS * BYTES_PER_MS:
            raise ValueError(f"send_clip takes pcm16 24 kHz bytes, at least {MIN_COMMIT_MS} ms of audio")
        self._check_open()
        if self.answering:
            self.interrupt()
        turn = self._new_turn(len(pcm16) / BYTES_PER_MS)
        self.client.send(ev.user_audio(bytes(pcm16)))
        self.client.send(ev.response_create())
        return turn

    def interrupt(self, cancel: bool = True) -> dict | None:
        """Barge in: stop playback, cancel a running response, truncate at what was played.

        Returns the ``conversation.item.truncate`` sent (None if no answer audio had arrived).
        """
        with self._cond:
            self.player.interrupt()
            if cancel and self._active is not None:
                self.client.send(ev.response_cancel())
            cuts = [self.player.truncate_event(item) for item in self._audio_items]
            self._audio_items = []
        # A preamble and its answer: truncate each item not heard to its end (one unheard gets 0 ms).
        heard = [t for t in cuts if t["audio_end_ms"] < int(self._received_ms(t["item_id"]))] or cuts[-1:]
        for truncate in heard:
            self.client.send(truncate)
            self.truncations.append(truncate)
        return heard[0] if heard else None

    def wait_responses(self, count: int, timeout: float = 30.0) -> dict:
        """Wait until `count` responses have finished in this session (VAD turns too); returns the last."""
        with self._cond:
            errors_before = len(self.errors)
        return self._wait(lambda: self.responses[count - 1] if len(self.responses) >= count else None,
                          errors_before, f"response #{count} done", timeout)

    def close(self, timeout: float = 5.0) -> None:
        """Stop the audio source and the receive thread; the client and player stay open."""
        if self._source is not None and hasattr(self._source, "stop"):
            self._source.stop()
        if self._sender is not None:
            self._sender.join(timeout)
            self._sender = None
        self._closed.set()
        self._receiver.join(timeout)
        if self._receiver.is_alive():
            raise RealtimeTimeout(["the receive thread to stop"], timeout, [])

    def __enter__(self) -> VoiceSession:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self._closed.is_set() else "answering" if self.answering else "idle"
        return f"<VoiceSession {state}, {len(self.responses)} responses, {len(self.truncations)} truncations>"

    # -- internals --

    def _received_ms(self, item_id: str) -> float:
        """Audio of `item_id` received so far (0 when the conversation does not know the item)."""
        try:
            return self.conversation.item(item_id).audio_ms
        except KeyError:
            return 0.0

    def _check_open(self) -> None:
        if self._closed.is_set():
            raise RuntimeError("this VoiceSession is closed")
        if self._connection_lost is not None:
            raise self._connection_lost

    def _new_turn(self, sent_ms: float) -> LiveTurn:
        with self._cond:
            turn = LiveTurn(self, len(self.errors), sent_ms)
            self._turns.append(turn)
            return turn

    def _send_audio(self, source: Iterable[bytes]) -> None:
        try:
            for chunk in source:
                self.client.send(ev.input_audio_append(chunk))
                self._sent_bytes += len(chunk)
        except Exception as exc:  # handed to release(), in the caller's thread
            self._send_error = exc

    def _wait_turn(self, turn: LiveTurn, timeout: float) -> dict:
        def answer():
            return next((r for r in self.responses if turn.response_id and r.get("id") == turn.response_id), None)
        return self._wait(answer, turn._errors_before, "the turn's response.done", timeout)

    def _wait(self, result: Callable[[], dict | None], errors_before: int, label: str, timeout: float) -> dict:
        """Wait until `result()` gives a response, a server error arrives, or the connection closes."""
        with self._cond:
            def ready():
                return (result() is not None or self._connection_lost is not None
                        or any(e.code not in _BENIGN_ERRORS for e in self.errors[errors_before:]))
            if not self._cond.wait_for(ready, timeout):
                raise RealtimeTimeout([label], timeout, [])
            found = result()
            if found is not None:
                return found
            for error in self.errors[errors_before:]:
                if error.code not in _BENIGN_ERRORS:
                    raise error
            assert self._connection_lost is not None  # what ready() saw, since nothing else was found
            raise self._connection_lost

    def _receive(self) -> None:
        """The receive thread: every server event updates the state, the player and the view."""
        while not self._closed.is_set():
            try:
                event = self.client.wait_for(timeout=RECEIVE_POLL_S)
            except RealtimeTimeout:
                continue
            except RealtimeServerError as err:
                event = err.event or {"type": "error", "error": err.error}
                with self._cond:
                    self.errors.append(err)
                    self._cond.notify_all()
            except RealtimeConnectionClosed as err:
                with self._cond:
                    self._connection_lost = err
                    self._cond.notify_all()
                return
            else:
                self._handle(event)
            if self.on_change is not None:
                self.on_change(self, event)

    def _handle(self, event: dict) -> None:
        kind = event.get("type")
        barge_in = False
        with self._cond:
            if kind in _AUDIO_DELTAS:
                item_id = event.get("item_id")
                if self.player.feed(decode_delta(event["delta"]), item_id=item_id) and item_id \
                        and item_id not in self._audio_items:
                    self._audio_items.append(item_id)
            elif kind == _THINKING_DELTA:
                response_id = event.get("response_id") or self._active or ""
                self.thinking[response_id] = self.thinking.get(response_id, "") + event.get("delta", "")
            elif kind == "response.created":
                self._active = (event.get("response") or {}).get("id")
                if self._turns and not self.vad:
                    self._turns.pop(0).response_id = self._active
            elif kind == "response.done":
                self._active = None
                self.responses.append(event.get("response") or {})
            elif kind == "input_audio_buffer.speech_started":
                barge_in = bool(self._audio_items) and self.player.buffered_ms > 0
            self._cond.notify_all()
        if barge_in:   # server VAD cancels the response itself; the client truncates what was heard
            self.interrupt(cancel=False)
