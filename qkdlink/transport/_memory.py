"""An in-memory transport pair for tests: bounded, ordered, with end-of-stream on close."""

from __future__ import annotations

import asyncio
from collections import deque

from qkdlink.errors import ChannelClosedError

__all__ = ["MemoryTransport", "memory_transport_pair"]


class _Pipe:
    """One direction: a byte-bounded FIFO of frames with EOF."""

    def __init__(self, max_buffered: int) -> None:
        self.frames: deque[bytes] = deque()
        self.buffered = 0
        self.max_buffered = max_buffered
        self.eof = False
        self.readable = asyncio.Event()
        self.writable = asyncio.Event()
        self.writable.set()

    def put(self, frame: bytes) -> None:
        self.frames.append(frame)
        self.buffered += len(frame)
        self.readable.set()
        if self.buffered >= self.max_buffered:
            self.writable.clear()

    def close(self) -> None:
        self.eof = True
        self.readable.set()
        self.writable.set()


class MemoryTransport:
    """One end of `memory_transport_pair`; frames keep their boundaries."""

    def __init__(self, outgoing: _Pipe, incoming: _Pipe) -> None:
        self._out = outgoing
        self._in = incoming
        self._closed = False

    async def send(self, frame: bytes | bytearray | memoryview) -> None:
        if self._closed:
            raise ChannelClosedError("transport closed")
        while not self._out.writable.is_set():
            await self._out.writable.wait()
            if self._closed:
                raise ChannelClosedError("transport closed")
        if self._out.eof or not frame:  # the peer's reader is gone, or nothing to send
            return
        self._out.put(bytes(frame))

    async def receive(self) -> bytes:
        while True:
            if self._closed:
                raise ChannelClosedError("transport closed")
            if self._in.frames:
                frame = self._in.frames.popleft()
                self._in.buffered -= len(frame)
                if self._in.buffered < self._in.max_buffered:
                    self._in.writable.set()
                return frame
            if self._in.eof:
                return b""
            self._in.readable.clear()
            await self._in.readable.wait()

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._out.close()
        self._in.close()
        self._in.frames.clear()


def memory_transport_pair(max_buffered: int = 4 << 20) -> tuple[MemoryTransport, MemoryTransport]:
    """Two connected transports; each direction buffers at most `max_buffered` bytes."""
    a_to_b, b_to_a = _Pipe(max_buffered), _Pipe(max_buffered)
    return MemoryTransport(a_to_b, b_to_a), MemoryTransport(b_to_a, a_to_b)
