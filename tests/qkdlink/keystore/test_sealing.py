"""At-rest sealing: master key files, AES-256-GCM blobs bound to their row, opaque failures."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from qkdlink.errors import ConfigurationError, KeyStoreError
from qkdlink.keystore import MASTER_KEY_BYTES, create_master_key_file, load_master_key
from qkdlink.keystore._sealing import Sealer, block_aad, check_canary, key_batch_aad, make_canary


def test_master_key_file_is_created_private_and_loads(tmp_path: Path) -> None:
    path = tmp_path / "master.key"
    create_master_key_file(path)
    assert path.stat().st_mode & 0o777 == 0o600
    key = load_master_key(path)
    assert len(key) == MASTER_KEY_BYTES
    with pytest.raises(ConfigurationError):
        create_master_key_file(path)  # never overwritten
    assert load_master_key(path) == key


@pytest.mark.parametrize(
    ("content", "mode"),
    [
        ("00" * 32 + "\n", 0o640),  # group-readable
        ("00" * 32, 0o604),  # world-readable
        ("00" * 31, 0o600),  # too short
        ("zz" * 32, 0o600),  # not hex
    ],
)
def test_bad_master_key_files_are_refused(tmp_path: Path, content: str, mode: int) -> None:
    path = tmp_path / "master.key"
    path.write_text(content)
    os.chmod(path, mode)
    with pytest.raises(ConfigurationError) as info:
        load_master_key(path)
    assert content.strip() not in str(info.value)


def test_missing_master_key_file_is_a_configuration_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError):
        load_master_key(tmp_path / "absent.key")


def test_master_key_through_a_symlink_is_refused(tmp_path: Path) -> None:
    real = tmp_path / "real.key"
    create_master_key_file(real)
    link = tmp_path / "master.key"
    link.symlink_to(real)
    with pytest.raises(ConfigurationError):
        load_master_key(link)


def test_master_key_that_is_not_a_regular_file_is_refused(tmp_path: Path) -> None:
    directory = tmp_path / "master.key"
    directory.mkdir(mode=0o700)
    with pytest.raises(ConfigurationError):
        load_master_key(directory)


@pytest.mark.skipif(os.geteuid() != 0, reason="chown to another user needs root")
def test_master_key_owned_by_another_user_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "master.key"
    create_master_key_file(path)
    os.chown(path, 65534, 65534)  # nobody
    with pytest.raises(ConfigurationError, match="not owned"):
        load_master_key(path)


def test_blobs_round_trip_with_fresh_nonces_and_bind_their_row() -> None:
    sealer = Sealer(bytes(range(32)))
    aad = key_batch_aad("b1", "M", "S")
    batch = sealer.batch()
    one, two = batch.seal(aad, b"secret"), batch.seal(aad, b"secret")
    assert one != two
    assert one[1:17] == two[1:17]  # same batch salt
    assert one[17:29] != two[17:29]  # fresh 96-bit nonce
    assert sealer.batch().seal(aad, b"secret")[1:17] != one[1:17]  # a new batch, a new key
    assert sealer.open(aad, one) == b"secret"
    for other in (
        key_batch_aad("b2", "M", "S"),
        key_batch_aad("b1", "M", "T"),
        key_batch_aad("b1", "X", "S"),
    ):
        with pytest.raises(KeyStoreError, match="authentication"):
            sealer.open(other, one)
    for broken in (one[:-1] + bytes([one[-1] ^ 1]), one[:20], b"", b"\x02" + one[1:]):
        with pytest.raises(KeyStoreError, match="authentication"):
            sealer.open(aad, broken)
    with pytest.raises(KeyStoreError):
        Sealer(bytes(32)).open(aad, one)


def test_the_master_key_never_encrypts_directly() -> None:
    master = bytes(range(32))
    blob = Sealer(master).batch().seal(b"", b"x" * 16)
    with pytest.raises(Exception):  # noqa: B017, PT011  (InvalidTag: a derived key was used)
        AESGCM(master).decrypt(blob[17:29], blob[29:], b"")


def test_aad_fields_cannot_be_shifted() -> None:
    assert block_aad("ab", 0, 1, 2) != block_aad("a", 0, 1, 2)
    assert key_batch_aad("a", "bc", "d") != key_batch_aad("ab", "c", "d")
    assert block_aad("l", 0, 1, 2) != block_aad("l", 1, 1, 2) != block_aad("l", 0, 1, 3)


def test_canary_detects_another_master_key() -> None:
    canary = make_canary(Sealer(bytes(32)))
    check_canary(Sealer(bytes(32)), canary)
    with pytest.raises(KeyStoreError, match="master key"):
        check_canary(Sealer(b"\x01" * 32), canary)


def test_nothing_secret_in_reprs() -> None:
    master = bytes(range(32))
    sealer = Sealer(master)
    assert master.hex() not in repr(sealer)
    assert "hidden" in repr(sealer.batch())
