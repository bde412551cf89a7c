"""The record layer's key schedule: epoch 0 from the handshake, each next epoch from a QKD key.

Every epoch has a chaining key and one AEAD key per direction. A rekey mixes a fresh QKD key into
the chaining key with HKDF (RFC 5869), the way TLS 1.3 chains secrets (RFC 8446 section 7.1:
HKDF-Extract with the previous secret as salt and the new input as IKM)::

    PRK            = HKDF-Extract(salt = chaining_key[e], IKM = qkd_key)
    ck[e+1] || k_i2r[e+1] || k_r2i[e+1]
                   = HKDF-Expand(PRK, "qkdlink v1 rekey" || u32(e+1) || key_id, 96)

HKDF-Extract is HMAC-SHA256 keyed by the old chaining key over the QKD key. HMAC is a PRF in its
key (Bellare, "New proofs for NMAC and HMAC", J. Cryptology 2015) and, for keys of a fixed
length, also a PRF when keyed through its message input, i.e. a dual PRF (Backendal, Bellare,
Günther and Scarlata, "When Messages are Keys: Is HMAC a dual-PRF?", CRYPTO 2023). Both inputs
have a fixed length here: the chaining key is 32 bytes and a link's QKD keys all have the KME's
one key size. So the new keys are secret if either the old chaining key or the QKD key is: the
QKD key alone refreshes a session whose handshake secrets later leak, and a leaked QKD key alone
reveals nothing. Binding the key ID and epoch into `info` makes both ends' derivations agree
only on the same announced key.

The epoch is a u32 on the wire (`_frames.HEADER`), so a session has at most `MAX_EPOCH` rekeys;
one more raises `EpochExhaustedError` instead of wrapping around or reusing an epoch number.

Python cannot guarantee memory is erased; `EpochKeys.wipe` zeroes our bytearrays and callers drop
every reference (the AEAD objects holding key schedules are dropped with them).
"""

from __future__ import annotations

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from protocols.errors import QkdlinkError

__all__ = [
    "KEY_SIZE",
    "MAX_EPOCH",
    "EpochExhaustedError",
    "EpochKeys",
    "KeyLifetimeError",
    "initial_epoch_keys",
    "next_epoch_keys",
]

KEY_SIZE = 32
MAX_EPOCH = (1 << 32) - 1
"""The last epoch number: the record header carries the epoch as a u32."""
_REKEY_INFO = b"qkdlink v1 rekey"
_CHAIN_INFO = b"qkdlink v1 chaining key"


class EpochKeys:
    """The secrets of one epoch; `repr` never shows them."""

    __slots__ = ("chaining_key", "epoch", "initiator_to_responder", "responder_to_initiator")

    def __init__(self, epoch: int, chaining_key: bytes, i2r: bytes, r2i: bytes) -> None:
        if not (len(chaining_key) == len(i2r) == len(r2i) == KEY_SIZE):
            raise ValueError("epoch keys must be 32 bytes each")
        if not 0 <= epoch <= MAX_EPOCH:
            raise ValueError("epoch must fit the header's u32 epoch field")
        self.epoch = epoch
        self.chaining_key = bytearray(chaining_key)
        self.initiator_to_responder = bytearray(i2r)
        self.responder_to_initiator = bytearray(r2i)

    def __repr__(self) -> str:
        return f"EpochKeys(epoch={self.epoch})"

    def wipe(self) -> None:
        """Zero the key bytes held here (best effort; see the module docstring)."""
        for secret in (
            self.chaining_key,
            self.initiator_to_responder,
            self.responder_to_initiator,
        ):
            secret[:] = bytes(len(secret))


def initial_epoch_keys(handshake_hash: bytes, i2r: bytes, r2i: bytes) -> EpochKeys:
    """Epoch 0: the handshake's two transport keys, and a chaining key derived from all of it.

    The chaining key is ``HKDF(salt = handshake_hash, IKM = i2r || r2i)``, so it depends on every
    input the handshake authenticated (the hash) and on the secret transport keys.
    """
    chaining_key = HKDF(
        algorithm=hashes.SHA256(), length=KEY_SIZE, salt=handshake_hash, info=_CHAIN_INFO
    ).derive(i2r + r2i)
    return EpochKeys(0, chaining_key, i2r, r2i)


def next_epoch_keys(current: EpochKeys, key_id: bytes, qkd_key: bytes) -> EpochKeys:
    """The keys of epoch ``current.epoch + 1``, mixing in one fresh QKD key (see module doc).

    Raises:
        EpochExhaustedError: `current` is the last epoch (`MAX_EPOCH`).
        ValueError: the QKD key is shorter than 32 bytes.
    """
    if current.epoch >= MAX_EPOCH:
        raise EpochExhaustedError("the session used every epoch number; a new handshake is needed")
    if len(qkd_key) < KEY_SIZE:
        raise ValueError("a rekey needs at least 32 bytes of QKD key")
    epoch = current.epoch + 1
    okm = HKDF(
        algorithm=hashes.SHA256(),
        length=3 * KEY_SIZE,
        salt=bytes(current.chaining_key),
        info=_REKEY_INFO + epoch.to_bytes(4, "big") + key_id,
    ).derive(qkd_key)
    return EpochKeys(epoch, okm[:KEY_SIZE], okm[KEY_SIZE : 2 * KEY_SIZE], okm[2 * KEY_SIZE :])


class KeyLifetimeError(QkdlinkError):
    """A traffic key reached its hard limit (time, bytes or records) without a completed rekey.

    The record layer then refuses to send or accept anything more: it never continues on an
    exhausted key (WireGuard's Reject-After-Time and Reject-After-Messages, section 6.1).
    """


class EpochExhaustedError(KeyLifetimeError):
    """A rekey is due after epoch `MAX_EPOCH` (2**32 - 1), the last the u32 header field holds.

    The channel ends (the runtime reports `RekeyError`) rather than wrap the epoch around, which
    would repeat (epoch, counter) nonces; a new handshake starts a new session at epoch 0.
    """
