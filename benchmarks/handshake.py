"""`handshake`: complete hybrid qkdlink handshakes per second on one core, KME fetch excluded.

One "handshake" is both ends in this process: `start`, `respond` and `finish`, with a fresh
ephemeral X25519 key per side, a fresh ML-KEM-768 key pair, encapsulation and decapsulation,
and the fixed 32-byte QKD key standing in for the KME fetch. Two baselines run interleaved in
the same process: the same handshake without ML-KEM (``qkd+x25519``, i.e. plain Noise
``IKpsk2``), and a TLS 1.3 handshake between two `ssl` objects over `ssl.MemoryBIO` (X25519 key
share, ECDSA P-256 certificate, verified by the client), also both ends in one process.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Callable

from benchmarks._harness import BenchOptions, Record, compare, interleaved_medians

_TARGET = ">= 1000 handshakes/s"


def _qkdlink_handshake(mode_name: str) -> Callable[[], None]:
    from cryptography.hazmat.primitives.asymmetric import x25519

    from protocols.channel import (
        HandshakeConfig,
        HandshakeInitiator,
        HandshakeMode,
        HandshakeResponder,
        peek_key_id,
    )

    mode = HandshakeMode(mode_name)
    a, b = x25519.X25519PrivateKey.generate(), x25519.X25519PrivateKey.generate()
    initiator_config = HandshakeConfig(
        "node-a", "node-b", a.private_bytes_raw(), b.public_key().public_bytes_raw(), mode
    )
    responder_config = HandshakeConfig(
        "node-b", "node-a", b.private_bytes_raw(), a.public_key().public_bytes_raw(), mode
    )
    psk = secrets.token_bytes(32)

    def handshake() -> None:
        initiator = HandshakeInitiator(initiator_config)
        first = initiator.start(psk, uuid.uuid4(), 1_790_000_000.0)
        peek_key_id(first)
        responder = HandshakeResponder(responder_config)
        initiator.finish(responder.respond(first, psk, 1_790_000_000.5))

    return handshake


def _tls13_handshake() -> tuple[Callable[[], None], Callable[[], None]]:
    """A TLS 1.3 in-memory handshake, and a cleanup that removes its temporary files."""
    import ssl
    import tempfile
    from pathlib import Path

    from qkdlink.pki import LabCA

    directory = tempfile.TemporaryDirectory()
    ca = LabCA.create(Path(directory.name))
    issued = ca.issue_kme_cert("KME_bench", Path(directory.name), hosts=("node-b",))
    cert_path, key_path = issued.cert, issued.key
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    server_ctx.load_cert_chain(cert_path, key_path)
    server_ctx.num_tickets = 0
    client_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    client_ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    client_ctx.load_verify_locations(ca.cert_path)

    def handshake() -> None:
        c_in, c_out, s_in, s_out = (ssl.MemoryBIO() for _ in range(4))
        client = client_ctx.wrap_bio(c_in, c_out, server_hostname="node-b")
        server = server_ctx.wrap_bio(s_in, s_out, server_side=True)
        pairs = ((client, c_out, s_in), (server, s_out, c_in))
        done = [False, False]
        for _ in range(10):  # TLS 1.3 completes in two flights each way; bounded loop
            for index, (end, outbox, peer_inbox) in enumerate(pairs):
                if not done[index]:
                    try:
                        end.do_handshake()
                        done[index] = True
                    except ssl.SSLWantReadError:
                        pass
                peer_inbox.write(outbox.read())
            if all(done):
                return
        raise RuntimeError("TLS handshake did not complete")

    return handshake, directory.cleanup


def bench_handshake(options: BenchOptions) -> list[Record]:
    batch = 20 if options.quick else 200
    rounds = 3 if options.quick else 9
    hybrid = _qkdlink_handshake("qkd+x25519+mlkem")
    plain = _qkdlink_handshake("qkd+x25519")
    tls, cleanup = _tls13_handshake()

    def repeat(fn: Callable[[], None]) -> Callable[[], None]:
        def run() -> None:
            for _ in range(batch):
                fn()

        return run

    try:
        hybrid_s, plain_s = interleaved_medians(repeat(hybrid), repeat(plain), rounds)
        hybrid2_s, tls_s = interleaved_medians(repeat(hybrid), repeat(tls), rounds)
    finally:
        cleanup()
    rate, plain_rate = batch / hybrid_s, batch / plain_s
    rate2, tls_rate = batch / hybrid2_s, batch / tls_s
    return [
        compare(
            "handshake",
            "hybrid_qkd_x25519_mlkem",
            rate,
            "handshakes/s",
            baseline="qkd+x25519 (Noise IKpsk2 without ML-KEM), same run",
            baseline_value=plain_rate,
            target=_TARGET,
            met=rate >= 1000,
        ),
        compare(
            "handshake",
            "hybrid_vs_tls13",
            rate2,
            "handshakes/s",
            baseline="TLS 1.3 via ssl.MemoryBIO (X25519, ECDSA P-256), same run",
            baseline_value=tls_rate,
            target=_TARGET,
            met=rate2 >= 1000,
        ),
    ]


BENCHMARKS = {"handshake": bench_handshake}
