"""Channel benchmarks: `channel-throughput`, `mqtt`, `large-array` (docs/channel.md, issue 4).

- ``channel-throughput``: 64 KiB and 1 KiB messages over TCP loopback, boundaries preserved,
  beside Python's `ssl` TLS 1.3 (AES-256-GCM) over asyncio streams with a 4-byte length prefix
  per message, on the same loopback, interleaved in the same process (both ends on one loop).
- ``mqtt``: 1 KiB messages per second through a private Mosquitto, channel (encrypted, with the
  transport's acknowledgements) beside plain aiomqtt QoS 1 publishing to a subscriber.
- ``large-array``: a 1 GiB float64 array (64 MiB with --quick) sent over a TCP channel, each end
  in its own process; peak RSS of each end (``ru_maxrss``) against the array size.

The QKD keys come from a benchmark-only provider that derives them from a shared random seed
(both processes must agree on keys without a KME; the KME fetch is not what is measured).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import os
import shutil
import socket
import statistics
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks._harness import BenchOptions, Record, compare

# ---------------------------------------------------------------------------------- helpers


class SeededKeyProvider:
    """Benchmark-only QKD key provider: keys derived from a seed both ends share. Not secure."""

    def __init__(self, seed: bytes) -> None:
        self._seed = seed
        self._next = 0

    async def new_key(self, peer: str) -> tuple[str, bytes]:
        self._next += 1
        key_id = str(uuid.UUID(bytes=hashlib.sha256(self._seed + b"%d" % self._next).digest()[:16]))
        return key_id, await self.key_by_id(peer, key_id)

    async def key_by_id(self, peer: str, key_id: str) -> bytes:
        return hmac.new(self._seed, key_id.encode(), hashlib.sha256).digest()


def _configs(seed: bytes, **overrides: Any) -> tuple[Any, Any]:
    from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

    from qkdlink.channel import ChannelConfig

    a = X25519PrivateKey.from_private_bytes(hashlib.sha256(seed + b"a").digest())
    b = X25519PrivateKey.from_private_bytes(hashlib.sha256(seed + b"b").digest())
    provider = SeededKeyProvider(seed)
    ca = ChannelConfig(
        local_id="bench-a",
        peer_id="bench-b",
        static_private_key=a.private_bytes_raw(),
        peer_static_public_key=b.public_key().public_bytes_raw(),
        key_provider=provider,
        **overrides,
    )
    cb = ChannelConfig(
        local_id="bench-b",
        peer_id="bench-a",
        static_private_key=b.private_bytes_raw(),
        peer_static_public_key=a.public_key().public_bytes_raw(),
        key_provider=SeededKeyProvider(seed),
        **overrides,
    )
    return ca, cb


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


# ---------------------------------------------------------------------- channel-throughput


async def _channel_run(size: int, count: int) -> float:
    """Seconds to move `count` messages of `size` bytes over a TCP-loopback channel."""
    from qkdlink.channel import TcpEndpoint, connect, serve

    ca, cb = _configs(os.urandom(32))
    ports: asyncio.Queue[int] = asyncio.Queue()
    server = asyncio.ensure_future(
        serve(cb, TcpEndpoint("127.0.0.1", 0), on_listening=ports.put_nowait)
    )
    port = await ports.get()
    payload = os.urandom(size)
    async with await connect(ca, TcpEndpoint("127.0.0.1", port)) as a, await server as b:

        async def pump() -> None:
            for _ in range(count):
                await a.send(payload)

        async def drain() -> None:
            for _ in range(count):
                message = await b.recv()
                if len(message) != size:
                    raise RuntimeError("message boundary lost")

        start = time.perf_counter()
        await asyncio.gather(pump(), drain())
        return time.perf_counter() - start


def _tls_contexts(directory: Path) -> tuple[Any, Any]:
    import ssl

    from qkdlink.pki import LabCA

    ca = LabCA.create(directory)
    issued = ca.issue_kme_cert("KME_bench", directory, hosts=("localhost",))
    cert_path, key_path = issued.cert, issued.key
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.minimum_version = ssl.TLSVersion.TLSv1_3
    server.load_cert_chain(cert_path, key_path)
    client = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    client.minimum_version = ssl.TLSVersion.TLSv1_3
    client.load_verify_locations(ca.cert_path)
    return server, client


async def _tls_run(size: int, count: int, contexts: tuple[Any, Any]) -> float:
    """The baseline: TLS 1.3 over asyncio streams, u32 length prefix per message."""
    server_ctx, client_ctx = contexts
    accepted: asyncio.Queue[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = asyncio.Queue()

    async def on_client(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        await accepted.put((r, w))

    server = await asyncio.start_server(on_client, "127.0.0.1", 0, ssl=server_ctx, limit=256 * 1024)
    port = server.sockets[0].getsockname()[1]
    _reader_c, writer_c = await asyncio.open_connection(
        "127.0.0.1", port, ssl=client_ctx, server_hostname="localhost", limit=256 * 1024
    )
    reader_s, writer_s = await accepted.get()
    cipher = writer_c.get_extra_info("ssl_object").cipher()[0]
    if cipher != "TLS_AES_256_GCM_SHA384":
        raise RuntimeError(f"baseline negotiated {cipher}, not AES-256-GCM")
    payload = os.urandom(size)
    prefix = size.to_bytes(4, "big")

    async def pump() -> None:
        for _ in range(count):
            writer_c.write(prefix)
            writer_c.write(payload)
            if writer_c.transport.get_write_buffer_size() > 1 << 20:
                await writer_c.drain()
        await writer_c.drain()

    async def drain() -> None:
        for _ in range(count):
            n = int.from_bytes(await reader_s.readexactly(4), "big")
            if len(await reader_s.readexactly(n)) != size:
                raise RuntimeError("message boundary lost")

    start = time.perf_counter()
    await asyncio.gather(pump(), drain())
    elapsed = time.perf_counter() - start
    for w in (writer_c, writer_s):
        w.close()
    server.close()
    return elapsed


def bench_channel_throughput(options: BenchOptions) -> list[Record]:
    directory = tempfile.TemporaryDirectory()
    contexts = _tls_contexts(Path(directory.name))
    cases = [
        (65536, 300 if options.quick else 8000, "throughput_64KiB", "MB/s"),
        (1024, 3000 if options.quick else 100_000, "messages_1KiB", "messages/s"),
    ]
    rounds = 1 if options.quick else 3
    records = []
    try:
        for size, count, metric, unit in cases:
            chan: list[float] = []
            base: list[float] = []
            for _ in range(rounds):
                chan.append(asyncio.run(_channel_run(size, count)))
                base.append(asyncio.run(_tls_run(size, count, contexts)))
            scale = size * count / 1e6 if unit == "MB/s" else count
            value = scale / statistics.median(chan)
            baseline = scale / statistics.median(base)
            records.append(
                compare(
                    "channel-throughput",
                    metric,
                    value,
                    unit,
                    baseline="ssl TLS 1.3 AES-256-GCM over asyncio streams, same loopback",
                    baseline_value=baseline,
                    target="ratio >= 1.0",
                    met=value / baseline >= 1.0,
                )
            )
    finally:
        directory.cleanup()
    return records


# ------------------------------------------------------------------------------------ mqtt


class _Mosquitto:
    def __init__(self) -> None:
        self.directory = tempfile.TemporaryDirectory()
        self.port = _free_port()
        conf = Path(self.directory.name, "mosquitto.conf")
        conf.write_text(f"listener {self.port} 127.0.0.1\nallow_anonymous true\nlog_dest none\n")
        binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
        self.process = subprocess.Popen(
            [binary, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.02)
        self.close()
        raise RuntimeError("mosquitto did not start")

    def close(self) -> None:
        self.process.terminate()
        self.process.wait(5)
        self.directory.cleanup()


async def _mqtt_channel_run(port: int, size: int, count: int) -> float:
    from qkdlink.channel import connect, serve
    from qkdlink.transport import MqttTransportConfig

    ca, cb = _configs(os.urandom(32))
    tag = os.urandom(3).hex()
    ta = MqttTransportConfig(local_id=f"a{tag}", peer_id=f"b{tag}", port=port)
    tb = MqttTransportConfig(local_id=f"b{tag}", peer_id=f"a{tag}", port=port)
    a, b = await asyncio.gather(connect(ca, ta), serve(cb, tb))
    payload = os.urandom(size)
    async with a, b:

        async def pump() -> None:
            for _ in range(count):
                await a.send(payload)

        async def drain() -> None:
            for _ in range(count):
                await b.recv()

        start = time.perf_counter()
        await asyncio.gather(pump(), drain())
        return time.perf_counter() - start


async def _mqtt_plain_run(port: int, size: int, count: int, *, pipelined: bool = False) -> float:
    import aiomqtt

    topic = f"bench/{os.urandom(4).hex()}"
    payload = os.urandom(size)
    quiet = logging.getLogger("benchmarks.channel.aiomqtt")  # no "N pending publish calls" spam
    quiet.setLevel(logging.ERROR)
    async with (
        aiomqtt.Client("127.0.0.1", port, logger=quiet) as sub,
        aiomqtt.Client("127.0.0.1", port, logger=quiet) as pub,
    ):
        await sub.subscribe(topic, qos=1)

        async def pump() -> None:
            if pipelined:  # up to 64 publishes in flight instead of one PUBACK at a time
                for start in range(0, count, 64):
                    batch = range(start, min(start + 64, count))
                    await asyncio.gather(*(pub.publish(topic, payload, qos=1) for _ in batch))
                return
            for _ in range(count):
                await pub.publish(topic, payload, qos=1)

        async def drain() -> None:
            seen = 0
            async for _ in sub.messages:
                seen += 1
                if seen == count:
                    return

        start = time.perf_counter()
        await asyncio.gather(pump(), drain())
        return time.perf_counter() - start


def bench_mqtt(options: BenchOptions) -> list[Record]:
    broker = _Mosquitto()
    size, count = 1024, (200 if options.quick else 3000)
    rounds = 1 if options.quick else 3
    runs: dict[str, list[float]] = {"channel": [], "plain": [], "pipelined": []}
    try:
        for _ in range(rounds):
            runs["channel"].append(asyncio.run(_mqtt_channel_run(broker.port, size, count)))
            runs["plain"].append(asyncio.run(_mqtt_plain_run(broker.port, size, count)))
            runs["pipelined"].append(
                asyncio.run(_mqtt_plain_run(broker.port, size, count, pipelined=True))
            )
    finally:
        broker.close()
    rate = {name: count / statistics.median(times) for name, times in runs.items()}
    baselines = {
        "plain": "plaintext aiomqtt QoS 1, one publish per message awaited in turn, same broker",
        "pipelined": "plaintext aiomqtt QoS 1, 64 publishes in flight, same broker",
    }
    return [
        compare(
            "mqtt",
            f"messages_1KiB_vs_{name}",
            rate["channel"],
            "messages/s",
            baseline=text,
            baseline_value=rate[name],
            target="ratio >= 0.8",
            met=rate["channel"] / rate[name] >= 0.8,
        )
        for name, text in baselines.items()
    ]


# ----------------------------------------------------------------------------- large-array


def _peak_rss_bytes() -> int:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux: KiB


def _array_receiver(seed: bytes, port: int, nbytes: int, out: Any) -> None:
    async def run() -> None:
        from qkdlink.channel import TcpEndpoint, serve

        _, cb = _configs(seed, max_array_size=nbytes)
        async with serve(cb, TcpEndpoint("127.0.0.1", port)) as b:
            array = await b.recv_array()
            out.put(("receiver", _peak_rss_bytes(), float(array[-1]), int(array.nbytes)))

    asyncio.run(run())


def _array_sender(seed: bytes, port: int, nbytes: int, out: Any) -> None:
    import numpy as np

    async def run() -> None:
        from qkdlink.channel import TcpEndpoint, connect

        ca, _ = _configs(seed, max_array_size=nbytes)
        array = np.arange(nbytes // 8, dtype=np.float64)
        for _ in range(50):
            try:
                channel = await connect(ca, TcpEndpoint("127.0.0.1", port))
                break
            except Exception:  # the receiver is not listening yet
                await asyncio.sleep(0.1)
        else:
            raise RuntimeError("receiver never listened")
        start = time.perf_counter()
        async with channel:
            await channel.send_array(array)
            await asyncio.sleep(0)
        out.put(("sender", _peak_rss_bytes(), time.perf_counter() - start, int(array.nbytes)))

    asyncio.run(run())


def bench_large_array(options: BenchOptions) -> list[Record]:
    import multiprocessing

    nbytes = (64 << 20) if options.quick else (1 << 30)
    ctx = multiprocessing.get_context("spawn")
    out = ctx.Queue()
    seed, port = os.urandom(32), _free_port()
    receiver = ctx.Process(target=_array_receiver, args=(seed, port, nbytes, out))
    sender = ctx.Process(target=_array_sender, args=(seed, port, nbytes, out))
    receiver.start()
    sender.start()
    results = {}
    for _ in range(2):
        item = out.get(timeout=600)
        results[item[0]] = item
    sender.join(60)
    receiver.join(60)
    if results["receiver"][2] != float(nbytes // 8 - 1):
        raise RuntimeError("the received array differs from the one sent")
    records = []
    for end in ("sender", "receiver"):
        rss = results[end][1]
        records.append(
            compare(
                "large-array",
                f"peak_rss_{end}",
                rss / 2**20,
                "MiB",
                baseline=f"array size ({nbytes >> 20} MiB float64)",
                baseline_value=nbytes / 2**20,
                target="ratio <= 1.25",
                met=rss / nbytes <= 1.25,
            )
        )
    return records


BENCHMARKS: dict[str, Callable[[BenchOptions], list[Record]]] = {
    "channel-throughput": bench_channel_throughput,
    "mqtt": bench_mqtt,
    "large-array": bench_large_array,
}
