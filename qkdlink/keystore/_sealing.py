"""At-rest encryption of stored key material: AES-256-GCM under the KME master key.

Every stored blob is sealed with AES-256-GCM (NIST SP 800-38D) under a key derived per *batch*
(one store call) from the master key, with a fresh random 96-bit nonce per blob. The associated
data binds the ciphertext to its row identity (link, partition, block, offset, or key batch and
SAE pair), so a row copied over another, or corrupted, fails authentication instead of returning
the wrong bytes.

Blob layout: ``version (1) || salt (16) || nonce (12) || ciphertext || tag (16)``.

Why a per-batch key: SP 800-38D section 8.3 caps a key at 2**32 random-nonce invocations; a KME
delivering 50,000 keys/s would reach that within a day under one key. Each batch derives its own
key with HKDF-SHA256 (RFC 5869) from the master key and a random 128-bit salt, so no derived key
is used for more than one call's worth of blobs, and the master key itself never encrypts.
"""

from __future__ import annotations

import os
import secrets
import stat
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from qkdlink.errors import ConfigurationError, KeyStoreError

MASTER_KEY_BYTES = 32
"""AES-256 master key size."""

_VERSION = 1
_SALT_BYTES = 16
_NONCE_BYTES = 12  # the 96-bit IV length SP 800-38D section 5.2.1.1 recommends
_TAG_BYTES = 16
_HEADER_BYTES = 1 + _SALT_BYTES + _NONCE_BYTES
_HKDF_INFO = b"qkdlink/keystore/aes-256-gcm/v1"
_DERIVED_CACHE_LIMIT = 256


def create_master_key_file(path: Path | str) -> None:
    """Write a fresh random master key (hex) to a new file readable by the owner only (0600).

    Raises:
        ConfigurationError: the file already exists or cannot be written.
    """
    target = Path(path)
    try:
        # O_EXCL: never overwrite a master key (that would make every stored key unreadable).
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except OSError as exc:
        raise ConfigurationError(f"cannot create master key file {target}: {exc.strerror}") from exc
    with os.fdopen(fd, "w") as handle:
        handle.write(secrets.token_bytes(MASTER_KEY_BYTES).hex() + "\n")


def load_master_key(path: Path | str) -> bytes:
    """Read a master key file: 64 hex digits in a regular file of ours, no group/other access.

    The file is opened once (not through a symbolic link) and its mode and owner are checked on
    that open descriptor, so the checked file is the one read (no check-then-read race).

    Raises:
        ConfigurationError: the file is missing, a link, not ours, readable by group or others,
            or malformed.
    """
    target = Path(path)
    try:
        fd = os.open(target, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError as exc:
        raise ConfigurationError(f"cannot read master key file {target}") from exc
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        os.close(fd)
        raise ConfigurationError(f"master key file {target} is not a regular file")
    with os.fdopen(fd, "rb") as handle:
        # Like OpenSSH with private keys: refuse a key file others can read or we do not own.
        if info.st_uid != os.geteuid():
            raise ConfigurationError(f"master key file {target} is not owned by this user")
        if info.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise ConfigurationError(
                f"master key file {target} must not be accessible by group/other"
            )
        try:
            text = handle.read(4 * MASTER_KEY_BYTES).decode("ascii")
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigurationError(f"cannot read master key file {target}") from exc
    try:
        key = bytes.fromhex(text.strip())
    except ValueError:
        key = b""
    if len(key) != MASTER_KEY_BYTES:
        # The message never echoes the file content.
        raise ConfigurationError(f"master key file {target} must hold {MASTER_KEY_BYTES} bytes hex")
    return key


def _field(value: str | int) -> bytes:
    data = value.encode() if isinstance(value, str) else value.to_bytes(8, "big", signed=True)
    return len(data).to_bytes(4, "big") + data


# Length-prefixed fields after a domain label: no two different identities encode alike.
_BLOCK_LABEL = b"qkdlink/block\x00"
_KEY_BATCH_LABEL = b"qkdlink/key-batch\x00"


def block_aad(link_id: str, partition: int, block_id: int, start: int) -> bytes:
    """Associated data of a stored raw block (its remainder starting at stream offset `start`)."""
    return b"".join(
        (_BLOCK_LABEL, _field(link_id), _field(partition), _field(block_id), _field(start))
    )


def key_batch_aad(batch_id: str, master_sae_id: str, slave_sae_id: str) -> bytes:
    """Associated data of a sealed batch of deliverable keys for one slave SAE (`_key_batch`)."""
    return b"".join(
        (_KEY_BATCH_LABEL, _field(batch_id), _field(master_sae_id), _field(slave_sae_id))
    )


class Sealer:
    """Seals and opens stored blobs under one master key; `batch()` gives a fresh derived key."""

    __slots__ = ("_cache", "_master")

    def __init__(self, master_key: bytes) -> None:
        if len(master_key) != MASTER_KEY_BYTES:
            raise ConfigurationError(f"master key must be {MASTER_KEY_BYTES} bytes")
        self._master = master_key
        self._cache: dict[bytes, AESGCM] = {}

    def __repr__(self) -> str:
        return "Sealer(<master key hidden>)"

    def _derive(self, salt: bytes) -> AESGCM:
        aead = self._cache.get(salt)
        if aead is None:
            okm = HKDF(algorithm=hashes.SHA256(), length=32, salt=salt, info=_HKDF_INFO).derive(
                self._master
            )
            aead = AESGCM(okm)
            if len(self._cache) >= _DERIVED_CACHE_LIMIT:
                self._cache.clear()
            self._cache[salt] = aead
        return aead

    def batch(self) -> SealingBatch:
        """A sealing context with a newly derived key, for the blobs of one store call."""
        salt = secrets.token_bytes(_SALT_BYTES)
        return SealingBatch(salt, self._derive(salt))

    def open(self, aad: bytes, blob: bytes) -> bytes:
        """Decrypt and authenticate a blob sealed for `aad`.

        Raises:
            KeyStoreError: the blob is corrupt, truncated, or belongs to another row (opaque).
        """
        if len(blob) < _HEADER_BYTES + _TAG_BYTES or blob[0] != _VERSION:
            raise KeyStoreError("stored key material failed authentication")
        salt = blob[1 : 1 + _SALT_BYTES]
        nonce = blob[1 + _SALT_BYTES : _HEADER_BYTES]
        try:
            return self._derive(bytes(salt)).decrypt(nonce, blob[_HEADER_BYTES:], aad)
        except InvalidTag:
            # One opaque error for every cause (STYLE.md 9); `from None` keeps no detail.
            raise KeyStoreError("stored key material failed authentication") from None


class SealingBatch:
    """One derived key: `seal(aad, plaintext)` with a fresh random 96-bit nonce each call."""

    __slots__ = ("_aead", "_nonces", "_prefix", "_used")

    def __init__(self, salt: bytes, aead: AESGCM) -> None:
        self._prefix = bytes([_VERSION]) + salt
        self._aead = aead
        self._nonces = b""
        self._used = 0

    def __repr__(self) -> str:
        return "SealingBatch(<key hidden>)"

    def seal(self, aad: bytes, plaintext: bytes) -> bytes:
        """Encrypt `plaintext` bound to `aad`; a new random nonce per call (SP 800-38D 8.2.2)."""
        # Nonces are drawn from the OS CSPRNG in chunks (one syscall per 256 nonces); each
        # chunk byte is used once, so every nonce is as fresh as a single urandom(12) call.
        if self._used == len(self._nonces):
            self._nonces = os.urandom(_NONCE_BYTES * 256)
            self._used = 0
        nonce = self._nonces[self._used : self._used + _NONCE_BYTES]
        self._used += _NONCE_BYTES
        return self._prefix + nonce + self._aead.encrypt(nonce, plaintext, aad)


_CANARY_AAD = b"qkdlink/keystore-canary"
_CANARY_TEXT = b"qkdlink key store"


def make_canary(sealer: Sealer) -> bytes:
    """A sealed marker stored with the schema, to detect a wrong master key at `open`."""
    return sealer.batch().seal(_CANARY_AAD, _CANARY_TEXT)


def check_canary(sealer: Sealer, blob: bytes) -> None:
    """Fail fast when a store is opened with another master key than it was created with.

    Raises:
        KeyStoreError: the master key does not open this store's marker.
    """
    try:
        ok = sealer.open(_CANARY_AAD, blob) == _CANARY_TEXT
    except KeyStoreError:
        ok = False
    if not ok:
        raise KeyStoreError("the master key does not match this key store")
