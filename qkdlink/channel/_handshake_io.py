"""Runs the sans-IO channel handshake over a transport, fetching the QKD key on each side.

The initiator (master SAE) takes a fresh key with ``enc_keys`` and sends its ID in the first
message; the responder (slave SAE) reads the ID before any cryptography (`peek_key_id`, which
also refuses a hybrid mode other than the configured one) and fetches the same key with
``dec_keys``. Handshake messages travel as ``u16 length || message`` (the record layer takes
over right after, on the same byte stream).
"""

from __future__ import annotations

import struct
import time
import uuid

from protocols.channel import (
    DowngradeError,
    HandshakeInitiator,
    HandshakeReplayCache,
    HandshakeResponder,
    HandshakeResult,
    peek_key_id,
)
from protocols.errors import AuthenticationError, LocalProtocolError, RemoteProtocolError
from qkdlink.channel._config import ChannelConfig
from qkdlink.errors import HandshakeError, KeyDeliveryError, KeyIdError, TransportError
from qkdlink.transport import Transport

__all__ = ["initiate_handshake", "respond_handshake"]

_LENGTH = struct.Struct("!H")
_MAX_MESSAGE = 8192  # an ML-KEM-768 initiation is about 1.3 KB; anything far larger is hostile
_PSK_SIZE = 32


async def _send_message(transport: Transport, message: bytes) -> None:
    await transport.send(_LENGTH.pack(len(message)) + message)


async def _receive_message(transport: Transport, buffer: bytearray) -> bytes:
    while True:
        if len(buffer) >= _LENGTH.size:
            (length,) = _LENGTH.unpack_from(buffer)
            if length > _MAX_MESSAGE:
                raise HandshakeError("handshake message too large") from RemoteProtocolError(
                    "oversize handshake message"
                )
            if len(buffer) >= _LENGTH.size + length:
                message = bytes(buffer[_LENGTH.size : _LENGTH.size + length])
                del buffer[: _LENGTH.size + length]
                return message
        data = await transport.receive()
        if not data:
            raise HandshakeError("the peer closed the connection during the handshake")
        buffer += data


def _psk_id(key_id: str) -> uuid.UUID:
    try:
        return uuid.UUID(key_id)
    except ValueError:
        raise HandshakeError("the QKD key ID is not a UUID (ETSI GS QKD 014)") from None


async def initiate_handshake(
    config: ChannelConfig, transport: Transport
) -> tuple[HandshakeResult, bytes]:
    """Initiator side; returns the result and any record bytes that followed the response.

    Raises:
        HandshakeError: the key could not be fetched, or the peer failed or refused the
            handshake (`__cause__` says why: AuthenticationError, RemoteProtocolError, ...).
    """
    try:
        key_id, psk = await config.key_provider.new_key(config.peer_id)
    except KeyDeliveryError as exc:
        raise HandshakeError("no QKD key for the handshake") from exc
    if len(psk) != _PSK_SIZE:
        raise HandshakeError("the handshake needs a 256-bit QKD key")
    initiator = HandshakeInitiator(config.handshake_config)
    buffer = bytearray()
    try:
        await _send_message(transport, initiator.start(psk, _psk_id(key_id), time.time()))
        result = initiator.finish(await _receive_message(transport, buffer))
    except (AuthenticationError, RemoteProtocolError, LocalProtocolError) as exc:
        raise HandshakeError("handshake failed") from exc
    except TransportError as exc:
        raise HandshakeError("transport failed during the handshake") from exc
    return result, bytes(buffer)


async def respond_handshake(
    config: ChannelConfig,
    transport: Transport,
    replay_cache: HandshakeReplayCache | None = None,
) -> tuple[HandshakeResult, bytes]:
    """Responder side; returns the result and any record bytes that followed the initiation.

    Raises:
        HandshakeError: malformed initiation, unknown/reused/foreign key ID, authentication
            failure, downgrade, replay or stale timestamp (`__cause__` says which).
    """
    buffer = bytearray()
    try:
        first = await _receive_message(transport, buffer)
        # The configured mode is checked here, before dec_keys: a downgraded (or misconfigured)
        # initiation must not make this end fetch, and so consume, the QKD key it names.
        key_id = peek_key_id(first, expected_mode=config.handshake_config.mode)
    except DowngradeError as exc:
        raise HandshakeError("the initiator asks for another hybrid mode (refused)") from exc
    except RemoteProtocolError as exc:
        raise HandshakeError("malformed handshake initiation") from exc
    except TransportError as exc:
        raise HandshakeError("transport failed during the handshake") from exc
    try:
        psk = await config.key_provider.key_by_id(config.peer_id, str(key_id))
    except KeyIdError as exc:
        raise HandshakeError("unknown, reused or foreign QKD key ID") from exc
    except KeyDeliveryError as exc:
        raise HandshakeError("the QKD key of the handshake could not be fetched") from exc
    responder = HandshakeResponder(config.handshake_config, replay_cache=replay_cache)
    try:
        await _send_message(transport, responder.respond(first, psk, time.time()))
    except (AuthenticationError, RemoteProtocolError, LocalProtocolError) as exc:
        raise HandshakeError("handshake failed") from exc
    except TransportError as exc:
        raise HandshakeError("transport failed during the handshake") from exc
    return responder.result, bytes(buffer)
