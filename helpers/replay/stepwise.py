"""Large client frames read in steps, so that one frame never holds the event loop for long.

websockets reads a frame's payload whole, then copies and unmasks it in one call: a 16 MiB
frame costs about 20 ms in one stretch (fresh memory for the copy, then the XOR), and every
paced audio delta of every other session due meanwhile is that late. `StepwiseServerProtocol`
is websockets' server protocol with one change: a payload above `STEP_BYTES` is unmasked piece
by piece as the socket delivers it, into memory that is mapped, not zeroed, up front. Frames,
limits and errors are websockets' own (small frames and frames with extensions take its path),
plus one: large payloads alive at once are bounded process-wide (`HELD_LIMIT`); a frame that would
pass it closes its connection with 1013, try again later.
"""

from __future__ import annotations

import mmap
import struct
import threading
import weakref
from collections.abc import Generator

from websockets.exceptions import PayloadTooBig, ProtocolError
from websockets.frames import CloseCode, Frame, Opcode, apply_mask  # apply_mask: websockets' C speedup if built
from websockets.protocol import SERVER, Protocol
from websockets.server import ServerProtocol

STEP_BYTES = 256 * 1024   # payloads above this are unmasked as they arrive (asyncio reads at most 256 KiB at once)
HELD_LIMIT = 256 * 1024 * 1024   # bytes of such payloads all connections of this process may hold at once


class ServerBusy(Exception):
    """No room for another large frame now: its connection is closed 1013 (try again later)."""


class _Held:
    """The bytes of large payloads alive in this process, across connections and servers."""

    bytes = 0
    lock = threading.Lock()

    @classmethod
    def take(cls, size: int) -> None:
        with cls.lock:
            if cls.bytes + size > HELD_LIMIT:
                raise ServerBusy(f"the server holds {cls.bytes >> 20} MiB of large frames already; try again later")
            cls.bytes += size

    @classmethod
    def give_back(cls, size: int) -> None:
        with cls.lock:
            cls.bytes -= size


class LargeText(mmap.mmap):
    """The payload of a large, complete text frame: UTF-8 bytes, not yet decoded (nor checked).

    websockets would join and decode it in one stretch when the handler receives it; the server
    takes it aside instead (`helpers.replay.server`) and decodes what it needs in steps. Like every
    large payload here it is anonymous memory: pages come as they are written (no 16 MiB zeroed at
    once) and go back to the system as soon as the frame is dropped.
    """


class _StepwiseFrames(Protocol):
    """The frame loop of `Protocol.parse`, reading large payloads in steps (see the module docstring)."""

    def parse(self) -> Generator[None]:
        try:
            while True:
                if (yield from self.reader.at_eof()):
                    raise EOFError("unexpected end of stream")
                if self.max_size is None:
                    max_size = None
                elif self.cur_size is None:
                    max_size = self.max_size
                else:
                    max_size = self.max_size - self.cur_size
                head = yield from _peek_header(self.reader)
                if head is None or self.extensions:
                    frame = yield from Frame.parse(self.reader.read_exact, mask=self.side is SERVER,
                                                   max_size=max_size, extensions=self.extensions)
                else:
                    frame = yield from _read_large(self.reader, head, max_size)
                self.recv_frame(frame)
                del frame  # not held here until the next frame arrives: a large payload's memory goes with its use
        # The same outcomes as websockets' Protocol.parse:
        except ProtocolError as exc:
            self.fail(CloseCode.PROTOCOL_ERROR, str(exc))
            self.parser_exc = exc
        except EOFError as exc:
            self.fail(CloseCode.ABNORMAL_CLOSURE, str(exc))
            self.parser_exc = exc
        except UnicodeDecodeError as exc:
            self.fail(CloseCode.INVALID_DATA, f"{exc.reason} at position {exc.start}")
            self.parser_exc = exc
        except PayloadTooBig as exc:
            exc.set_current_size(self.cur_size)
            self.fail(CloseCode.MESSAGE_TOO_BIG, str(exc))
            self.parser_exc = exc
        except ServerBusy as exc:  # ours: memory for large frames is bounded process-wide
            self.fail(CloseCode.TRY_AGAIN_LATER, str(exc))
            self.parser_exc = exc
        except Exception as exc:
            self.logger.error("parser failed", exc_info=True)
            self.fail(CloseCode.INTERNAL_ERROR)
            self.parser_exc = exc
        yield
        raise AssertionError("parse() shouldn't step after error")


class StepwiseServerProtocol(ServerProtocol, _StepwiseFrames):
    """websockets' `ServerProtocol` (handshake unchanged) whose frame loop is `_StepwiseFrames.parse`."""


def adopt(protocol: ServerProtocol) -> None:
    """Make a fresh websockets `ServerProtocol` (nothing received yet) read large frames in steps.

    websockets' asyncio server builds the protocol itself; the connection factory adopts it before
    the first byte arrives, restarting the parser so that it runs the stepwise frame loop.
    """
    assert not protocol.reader.buffer, "adopt() must run before any data is received"
    protocol.__class__ = StepwiseServerProtocol
    protocol.parser = protocol.parse()
    next(protocol.parser)


def _peek_header(reader) -> Generator[None, None, tuple[int, int, int, bytes] | None]:
    """(header bytes, first header byte, payload length, mask) of the next frame when it is masked and
    larger than `STEP_BYTES`, without consuming anything; None for any other frame."""
    while len(reader.buffer) < 2:
        if reader.eof:
            return None  # let websockets' parse report the truncated frame
        yield
    head1, head2 = reader.buffer[0], reader.buffer[1]
    size, masked = head2 & 0x7F, bool(head2 & 0x80)
    if size < 127 or not masked or head1 & 0x70:  # 126: at most 64 KiB; reserved bits: websockets refuses
        return None
    while len(reader.buffer) < 14:
        if reader.eof:
            return None
        yield
    (length,) = struct.unpack_from("!Q", reader.buffer, 2)
    if length <= STEP_BYTES:
        return None
    return (14, head1, length, bytes(reader.buffer[10:14]))


def _read_large(reader, head: tuple[int, int, int, bytes], max_size: int | None) -> Generator[None, None, Frame]:
    """The frame `head` announced, its payload unmasked piece by piece as the socket delivers it."""
    header_bytes, head1, length, mask = head
    try:
        opcode = Opcode(head1 & 0x0F)
    except ValueError as exc:
        raise ProtocolError("invalid opcode") from exc
    if max_size is not None and length > max_size:
        raise PayloadTooBig(length, max_size)
    del reader.buffer[:header_bytes]
    fin = bool(head1 & 0x80)
    _Held.take(length)
    payload = LargeText(-1, length) if opcode is Opcode.TEXT and fin else mmap.mmap(-1, length)
    give_back = weakref.finalize(payload, _Held.give_back, length)   # when the last reference to it goes
    done = 0
    try:
        while done < length:
            while not reader.buffer:
                if reader.eof:
                    raise EOFError(f"stream ends after {done} bytes, expected {length} bytes")
                yield
            step = min(len(reader.buffer), length - done)
            turn = done % 4  # the mask continues where the last piece ended
            payload[done:done + step] = apply_mask(reader.buffer[:step], mask[turn:] + mask[:turn])
            del reader.buffer[:step]
            done += step
    except BaseException:  # cut off (EOF, the parser closed): the exception's traceback would keep it alive
        payload.close()
        give_back()
        raise
    frame = Frame(opcode, payload, fin)  # type: ignore[arg-type]  # websockets takes any buffer (b"".join)
    frame.check()
    return frame
