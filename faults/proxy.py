"""A loopback proxy in front of PostgreSQL that loses the replies to some COMMITs.

It speaks just enough of the PostgreSQL wire protocol to frame messages: when the client sends
a simple-query ``COMMIT``, the proxy forwards it, lets PostgreSQL commit, swallows the reply and
closes the client's connection. The client cannot tell whether its transaction committed, which
is exactly the failure a network drop or a crashed proxy causes in production."""

from __future__ import annotations

import asyncio
import contextlib
import random
import struct
from dataclasses import dataclass, field

SSL_REQUEST = 80877103
GSS_REQUEST = 80877104


@dataclass
class CommitReplyDropper:
    """Listens on 127.0.0.1 and forwards to PostgreSQL's unix socket (or a TCP address)."""

    unix_socket: str | None = None
    upstream: tuple[str, int] | None = None
    drop_rate: float = 0.0
    seed: int = 0
    commits: int = 0
    dropped: int = 0
    port: int = 0
    _server: asyncio.Server | None = None
    _rng: random.Random = field(default_factory=random.Random)
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)

    async def start(self) -> int:
        self._rng = random.Random(self.seed)
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = int(self._server.sockets[0].getsockname()[1])
        return self.port

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        for task in list(self._tasks):
            task.cancel()

    async def _connect(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        if self.unix_socket is not None:
            return await asyncio.open_unix_connection(self.unix_socket)
        assert self.upstream is not None
        return await asyncio.open_connection(*self.upstream)

    async def _serve(self, c_reader: asyncio.StreamReader, c_writer: asyncio.StreamWriter) -> None:
        try:
            s_reader, s_writer = await self._connect()
        except OSError:
            c_writer.close()
            return
        link = _Link()
        up = asyncio.create_task(self._client_to_server(c_reader, s_writer, link))
        down = asyncio.create_task(self._server_to_client(s_reader, c_writer, link))
        for task in (up, down):
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        await asyncio.wait({up, down}, return_when=asyncio.FIRST_COMPLETED)
        for task in (up, down):
            task.cancel()
        for writer in (c_writer, s_writer):
            with contextlib.suppress(Exception):
                writer.close()

    async def _client_to_server(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, link: _Link
    ) -> None:
        # Untyped start-up messages first (SSL/GSS request, then the startup packet).
        while True:
            head = await reader.readexactly(4)
            (length,) = struct.unpack("!i", head)
            body = await reader.readexactly(length - 4)
            code = struct.unpack("!i", body[:4])[0] if len(body) >= 4 else 0
            negotiating = code in (SSL_REQUEST, GSS_REQUEST)
            if negotiating:
                link.one_byte_answers += 1  # before the server can possibly answer
            writer.write(head + body)
            await writer.drain()
            if not negotiating:
                break
        while True:
            kind = await reader.readexactly(1)
            head = await reader.readexactly(4)
            (length,) = struct.unpack("!i", head)
            body = await reader.readexactly(length - 4)
            if kind == b"Q" and body.lstrip().upper().startswith(b"COMMIT"):
                self.commits += 1
                if self._rng.random() < self.drop_rate:
                    link.lose_reply = True
            writer.write(kind + head + body)
            await writer.drain()

    async def _server_to_client(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, link: _Link
    ) -> None:
        while True:
            kind = await reader.readexactly(1)
            if link.one_byte_answers:
                # The answer to an SSL or GSS request is one byte, not a framed message.
                link.one_byte_answers -= 1
                writer.write(kind)
                await writer.drain()
                continue
            head = await reader.readexactly(4)
            (length,) = struct.unpack("!i", head)
            body = await reader.readexactly(length - 4)
            if link.lose_reply:
                # PostgreSQL has committed and is answering: the answer never arrives.
                if kind == b"Z":
                    self.dropped += 1
                    return
                continue
            writer.write(kind + head + body)
            await writer.drain()


@dataclass
class _Link:
    """What one pump tells the other about a connection."""

    one_byte_answers: int = 0
    lose_reply: bool = False
