"""The qkdlink channel handshake: Noise ``IKpsk2`` keyed by a QKD key, with optional ML-KEM-768.

Why ``IKpsk2`` (the pattern WireGuard uses, analysed by Dowling and Paterson, ACNS 2018):

* The nodes of a lab know each other's X25519 static keys from configuration, so the
  initiator can encrypt to the responder's static key at once: the ``K`` half of ``IK``.
* One round trip (two messages), against three for ``XXpsk3``; the responder answers the
  first message, and the initiator can send data right after reading the second.
* The initiator's identity travels encrypted to the responder's static key (Noise section 7.8:
  property 4), and the responder's is never sent.
* The PSK (the QKD key) is mixed by ``psk2`` after all four DHs: it authenticates both sides
  and keys the session even if X25519 falls to a quantum computer, while a leaked QKD key
  alone still leaves the X25519 (and ML-KEM) secrets. ``XXpsk3`` would add a round trip and
  transmit both static keys, which the lab configuration makes unnecessary.

Noise protocol: ``Noise_IKpsk2_25519_ChaChaPoly_SHA256``. The prologue (Noise section 6) binds
the handshake version, the hybrid mode, both node IDs and the QKD key ID, so two ends that
disagree on any of them (a downgrade of the mode, a swapped key ID) fail authentication.
The clear header of the first message carries the mode and key ID, so the responder can
fetch the PSK with ``dec_keys`` before any cryptography (`peek_key_id`) and can name a mode
mismatch (`DowngradeError`). See docs/channel.md, section "Handshake".
"""

from __future__ import annotations

import enum
import hmac
import math
import uuid
from dataclasses import dataclass, field
from typing import Final

from cryptography.hazmat.primitives.asymmetric import mlkem

from protocols.channel._handshake_errors import DowngradeError, StaleHandshakeError
from protocols.channel._handshake_messages import (
    PROTOCOL_VERSION,
    HandshakeFormatError,
    Initiation,
    decode_initiation,
    decode_initiation_mode,
    decode_initiation_payload,
    decode_response,
    decode_response_payload,
    encode_initiation,
    encode_initiation_payload,
    encode_response,
    encode_response_payload,
    encode_tai64n,
)
from protocols.channel._handshake_replay import HandshakeReplayCache
from protocols.channel._hybrid import (
    MLKEM768_SEED_LEN,
    HandshakeMode,
    combine_mlkem,
    mlkem_decapsulate,
    mlkem_encapsulate,
    mlkem_keypair,
)
from protocols.errors import (
    AuthenticationError,
    LocalProtocolError,
    RemoteProtocolError,
)
from protocols.noise import Curve25519, HandshakeState, KeyPair, NoiseProtocol

__all__ = [
    "NOISE_PROTOCOL_NAME",
    "HandshakeConfig",
    "HandshakeInitiator",
    "HandshakeResponder",
    "HandshakeResult",
    "handshake_prologue",
    "peek_key_id",
]

NOISE_PROTOCOL_NAME: Final = "Noise_IKpsk2_25519_ChaChaPoly_SHA256"
_NOISE_PROTOCOL: Final = NoiseProtocol.from_name(NOISE_PROTOCOL_NAME)
_DH: Final = Curve25519()
_PROLOGUE_LABEL: Final = b"qkdlink channel handshake\x00"
PSK_LEN: Final = 32
_MAX_ID_LEN: Final = 255


# eq=False: a generated __eq__/__hash__ would compare and hash the static private key with
# ordinary (variable-time) bytes operations; configurations compare by identity instead.
@dataclass(frozen=True, slots=True, eq=False)
class HandshakeConfig:
    """One end of a channel between two configured nodes; validated on construction."""

    local_id: str
    """This node's ID (e.g. its SAE ID); bound into the prologue."""
    peer_id: str
    """The other node's ID; bound into the prologue."""
    static_private_key: bytes = field(repr=False, compare=False)
    """This node's X25519 static private key (32 bytes, from the lab configuration)."""
    peer_static_public_key: bytes
    """The other node's X25519 static public key (32 bytes); anything else is refused."""
    mode: HandshakeMode = HandshakeMode.QKD_X25519_MLKEM
    """The hybrid mode; both ends must be configured alike (no negotiation, no fallback)."""
    max_clock_skew: float = 120.0
    """Seconds an initiation's timestamp may differ from the responder's clock."""
    _static: KeyPair = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        for name in ("local_id", "peer_id"):
            value = getattr(self, name)
            if not isinstance(value, str) or not 0 < len(value.encode()) <= _MAX_ID_LEN:
                raise ValueError(f"{name} must be a non-empty string of at most 255 bytes")
        if self.local_id == self.peer_id:
            raise ValueError("local_id and peer_id must differ")
        if not isinstance(self.static_private_key, bytes) or len(self.static_private_key) != 32:
            raise ValueError("static_private_key must be 32 bytes")
        if (
            not isinstance(self.peer_static_public_key, bytes)
            or len(self.peer_static_public_key) != 32
        ):
            raise ValueError("peer_static_public_key must be 32 bytes")
        if not isinstance(self.mode, HandshakeMode):
            raise ValueError("mode must be a HandshakeMode")
        if not (math.isfinite(self.max_clock_skew) and self.max_clock_skew > 0):
            raise ValueError("max_clock_skew must be positive")
        # Derived once: recomputing the public key costs a scalar multiplication per handshake.
        object.__setattr__(self, "_static", _DH.keypair_from_private(self.static_private_key))

    @property
    def static_public_key(self) -> bytes:
        """This node's X25519 static public key."""
        return self._static.public


@dataclass(frozen=True, slots=True)
class HandshakeResult:
    """What a completed handshake yields: the session keys and what they are bound to."""

    mode: HandshakeMode
    """The hybrid mode that keyed the session."""
    key_id: uuid.UUID
    """The QKD key ID used as the PSK (consumed: never use it again)."""
    handshake_hash: bytes
    """Noise's final handshake hash `h`: a unique, public channel binding (section 11.2)."""
    peer_static: bytes
    """The authenticated X25519 static public key of the peer."""
    is_initiator: bool
    """This end's role."""
    initiator_to_responder: bytes = field(repr=False, compare=False)
    """32-byte key for records from initiator to responder."""
    responder_to_initiator: bytes = field(repr=False, compare=False)
    """32-byte key for records from responder to initiator."""

    @property
    def send_key(self) -> bytes:
        """The key this end encrypts with."""
        return self.initiator_to_responder if self.is_initiator else self.responder_to_initiator

    @property
    def receive_key(self) -> bytes:
        """The key this end decrypts with."""
        return self.responder_to_initiator if self.is_initiator else self.initiator_to_responder


def handshake_prologue(
    mode: HandshakeMode, initiator_id: str, responder_id: str, key_id: uuid.UUID
) -> bytes:
    """The Noise prologue: label, version, mode, both node IDs (length-prefixed), key ID."""
    initiator = initiator_id.encode()
    responder = responder_id.encode()
    return b"".join(
        (
            _PROLOGUE_LABEL,
            bytes((PROTOCOL_VERSION, mode.wire_code, len(initiator))),
            initiator,
            bytes((len(responder),)),
            responder,
            key_id.bytes,
        )
    )


def peek_key_id(first_message: bytes, *, expected_mode: HandshakeMode | None = None) -> uuid.UUID:
    """The QKD key ID in a first handshake message, read before any cryptography.

    The responder uses it to fetch the PSK (``dec_keys``); the ID is authenticated later, when
    `HandshakeResponder.respond` processes the message. Passing the configured mode as
    `expected_mode` refuses a mode mismatch here, before a QKD key is fetched (and so consumed)
    for a handshake `respond` would refuse anyway.

    Raises:
        DowngradeError: the header names another mode than `expected_mode`.
        RemoteProtocolError: the bytes are not a well-formed initiation of this version.
    """
    try:
        mode = decode_initiation_mode(first_message)
        if expected_mode is not None and mode is not expected_mode:
            raise DowngradeError(
                f"initiator asks for mode {mode.value!r}, configured is {expected_mode.value!r}"
            )
        return decode_initiation(first_message).key_id
    except HandshakeFormatError as exc:
        raise RemoteProtocolError(str(exc)) from None


def _check_psk(psk: bytes) -> None:
    if not isinstance(psk, bytes) or len(psk) != PSK_LEN:
        raise LocalProtocolError("the QKD key used as PSK must be exactly 32 bytes")


class _Phase(enum.Enum):
    READY = "ready"
    WAITING = "waiting for the response"
    DONE = "done"
    FAILED = "failed"


class HandshakeInitiator:
    """The initiating end (master SAE): ``start()`` then ``finish()``; single use."""

    __slots__ = (
        "_config",
        "_fixed_ephemeral",
        "_fixed_mlkem_seed",
        "_key_id",
        "_mlkem",
        "_noise",
        "_phase",
    )

    def __init__(self, config: HandshakeConfig) -> None:
        self._config = config
        self._phase = _Phase.READY
        self._noise: HandshakeState | None = None
        self._mlkem: mlkem.MLKEM768PrivateKey | None = None
        self._key_id: uuid.UUID | None = None
        self._fixed_ephemeral: bytes | None = None
        self._fixed_mlkem_seed: bytes | None = None

    def __repr__(self) -> str:
        config = self._config
        return f"<HandshakeInitiator {config.local_id}->{config.peer_id} {self._phase.value}>"

    def set_ephemerals_for_testing(self, x25519_private: bytes, mlkem_seed: bytes | None) -> None:
        """TEST HOOK: fixed X25519 ephemeral and ML-KEM seed, for reproducible test vectors.

        Never in production: a repeated ephemeral voids forward secrecy.
        """
        if self._phase is not _Phase.READY:
            raise LocalProtocolError("ephemerals must be fixed before start()")
        if mlkem_seed is not None and len(mlkem_seed) != MLKEM768_SEED_LEN:
            raise LocalProtocolError("the ML-KEM seed is 64 bytes")
        self._fixed_ephemeral = x25519_private
        self._fixed_mlkem_seed = mlkem_seed

    def start(self, psk: bytes, key_id: uuid.UUID, now: float) -> bytes:
        """The first handshake message, for the QKD key `psk` obtained with ``enc_keys``.

        Args:
            psk: the 32-byte QKD key; used for this handshake only.
            key_id: its ETSI GS QKD 014 key ID, sent in clear for the responder's ``dec_keys``.
            now: the current POSIX time, sent (encrypted) against replays.

        Raises:
            LocalProtocolError: called twice, a PSK that is not 32 bytes, or a bad `now`.
        """
        if self._phase is not _Phase.READY:
            raise LocalProtocolError(f"start() called when {self._phase.value}")
        _check_psk(psk)
        if not isinstance(key_id, uuid.UUID):
            raise LocalProtocolError("key_id must be a uuid.UUID")
        try:
            timestamp = encode_tai64n(now)
        except ValueError as exc:
            raise LocalProtocolError(str(exc)) from None
        config = self._config
        self._phase = _Phase.FAILED  # until the message is built
        noise = HandshakeState(
            _NOISE_PROTOCOL,
            initiator=True,
            prologue=handshake_prologue(config.mode, config.local_id, config.peer_id, key_id),
            s=config._static,
            rs=config.peer_static_public_key,
            psks=[psk],
        )
        if self._fixed_ephemeral is not None:
            noise.set_ephemeral_for_testing(self._fixed_ephemeral)
        encapsulation_key = None
        if config.mode.uses_mlkem:
            self._mlkem = mlkem_keypair(self._fixed_mlkem_seed)
            encapsulation_key = self._mlkem.public_key().public_bytes_raw()
        payload = encode_initiation_payload(timestamp, encapsulation_key)
        message = encode_initiation(Initiation(config.mode, key_id, noise.write_message(payload)))
        self._noise = noise
        self._key_id = key_id
        self._phase = _Phase.WAITING
        return message

    def finish(self, second_message: bytes) -> HandshakeResult:
        """Process the responder's message; the session keys on success.

        Raises:
            AuthenticationError: wrong PSK, wrong responder static key, or tampering.
            RemoteProtocolError: the bytes are not a well-formed response.
            LocalProtocolError: called before `start()` or twice.
        """
        if self._phase is not _Phase.WAITING or self._noise is None or self._key_id is None:
            raise LocalProtocolError(f"finish() called when {self._phase.value}")
        self._phase = _Phase.FAILED
        mode = self._config.mode
        # Single use: this object keeps no reference to the handshake secrets (PSK, ephemeral
        # and ML-KEM keys) afterwards, whether the response authenticates or not.
        noise, decapsulation_key = self._noise, self._mlkem
        self._noise = self._mlkem = None
        try:
            noise_message = decode_response(second_message, mode)
            payload = noise.read_message(noise_message)
            ciphertext = decode_response_payload(payload, mode)
        except HandshakeFormatError as exc:
            raise RemoteProtocolError(str(exc)) from None
        handshake_hash = noise.transport().handshake_hash
        i2r, r2i = _transport_keys(noise)
        if mode.uses_mlkem:
            # Decided by the configured mode, never by what arrived: no silent hybrid fallback.
            if ciphertext is None or decapsulation_key is None:
                raise LocalProtocolError("hybrid mode without its ML-KEM exchange")
            secret = mlkem_decapsulate(decapsulation_key, ciphertext)
            i2r, r2i = combine_mlkem(handshake_hash, i2r, r2i, secret)
        self._phase = _Phase.DONE
        return HandshakeResult(
            mode, self._key_id, handshake_hash, self._config.peer_static_public_key,
            True, i2r, r2i,
        )  # fmt: skip


class HandshakeResponder:
    """The responding end (slave SAE): ``respond()`` once, then ``result``."""

    __slots__ = ("_config", "_fixed_ephemeral", "_phase", "_replay_cache", "_result")

    def __init__(
        self, config: HandshakeConfig, *, replay_cache: HandshakeReplayCache | None = None
    ) -> None:
        """Args:
        config: this end's configuration.
        replay_cache: shared by all responders of this node; None checks only the clock
            window (the KME's single delivery of each key ID then stops replays).
        """
        self._config = config
        self._replay_cache = replay_cache
        self._phase = _Phase.READY
        self._result: HandshakeResult | None = None
        self._fixed_ephemeral: bytes | None = None

    def __repr__(self) -> str:
        config = self._config
        return f"<HandshakeResponder {config.local_id}<-{config.peer_id} {self._phase.value}>"

    def set_ephemeral_for_testing(self, x25519_private: bytes) -> None:
        """TEST HOOK: a fixed X25519 ephemeral for reproducible test vectors (never in use)."""
        if self._phase is not _Phase.READY:
            raise LocalProtocolError("the ephemeral must be fixed before respond()")
        self._fixed_ephemeral = x25519_private

    def respond(self, first_message: bytes, psk: bytes, now: float) -> bytes:
        """Check the initiation and answer it, keying the session with the QKD key `psk`.

        Args:
            first_message: the initiator's message (its key ID is `peek_key_id`).
            psk: the 32-byte QKD key fetched with ``dec_keys`` for that key ID.
            now: the current POSIX time (replay window).

        Raises:
            DowngradeError: the initiation asks for another hybrid mode than configured.
            AuthenticationError: wrong static key of either side, altered header, tampering.
            StaleHandshakeError: the timestamp lies outside the clock window.
            ReplayedHandshakeError: the initiation (its key ID) was accepted before.
            RemoteProtocolError: the bytes are not a well-formed initiation.
            LocalProtocolError: called twice, a PSK that is not 32 bytes, or a bad `now`.
        """
        if self._phase is not _Phase.READY:
            raise LocalProtocolError(f"respond() called when {self._phase.value}")
        _check_psk(psk)
        if not math.isfinite(now):
            raise LocalProtocolError("now must be a finite POSIX time")
        self._phase = _Phase.FAILED
        config = self._config
        try:
            mode = decode_initiation_mode(first_message)
            if mode is not config.mode:
                raise DowngradeError(
                    f"initiator asks for mode {mode.value!r}, configured is {config.mode.value!r}"
                )
            initiation = decode_initiation(first_message)
        except HandshakeFormatError as exc:
            raise RemoteProtocolError(str(exc)) from None
        noise = HandshakeState(
            _NOISE_PROTOCOL,
            initiator=False,
            # Built from our configuration, not the header: any altered field fails below.
            prologue=handshake_prologue(
                config.mode, config.peer_id, config.local_id, initiation.key_id
            ),
            s=config._static,
            psks=[psk],
        )
        try:
            payload = noise.read_message(initiation.noise_message)
            peer_static = noise.remote_static or b""
            if not hmac.compare_digest(peer_static, config.peer_static_public_key):
                # An authentic handshake from a node that is not our configured peer.
                raise AuthenticationError("handshake authentication failed")
            timestamp, encapsulation_key = decode_initiation_payload(payload, config.mode)
        except HandshakeFormatError as exc:
            raise RemoteProtocolError(str(exc)) from None
        if abs(timestamp - now) > config.max_clock_skew:
            raise StaleHandshakeError("handshake timestamp outside the accepted window")
        if self._replay_cache is not None:
            self._replay_cache.record(initiation.key_id, timestamp, now)
        secret = ciphertext = None
        if config.mode.uses_mlkem:
            # Decided by the configured mode, never by what arrived: no silent hybrid fallback.
            if encapsulation_key is None:
                raise LocalProtocolError("hybrid mode without its ML-KEM exchange")
            secret, ciphertext = mlkem_encapsulate(encapsulation_key)
        if self._fixed_ephemeral is not None:
            noise.set_ephemeral_for_testing(self._fixed_ephemeral)
        message = encode_response(noise.write_message(encode_response_payload(ciphertext)))
        h = noise.transport().handshake_hash
        i2r, r2i = _transport_keys(noise)
        if secret is not None:
            i2r, r2i = combine_mlkem(h, i2r, r2i, secret)
        self._result = HandshakeResult(
            config.mode, initiation.key_id, h, config.peer_static_public_key, False, i2r, r2i
        )
        self._phase = _Phase.DONE
        return message

    @property
    def result(self) -> HandshakeResult:
        """The session keys, once `respond()` succeeded.

        Raises:
            LocalProtocolError: `respond()` has not succeeded.
        """
        if self._result is None:
            raise LocalProtocolError("no handshake result: respond() has not succeeded")
        return self._result


def _transport_keys(noise: HandshakeState) -> tuple[bytes, bytes]:
    """The raw Split() keys (initiator->responder, responder->initiator)."""
    transport = noise.transport()
    send, receive = transport.send, transport.receive
    if send is None or receive is None:
        raise LocalProtocolError("IKpsk2 is interactive: both CipherStates exist")
    keys = (send.export_key(), receive.export_key())
    return keys if noise.is_initiator else (keys[1], keys[0])
