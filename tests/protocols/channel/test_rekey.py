"""QKD rekey: key schedule, rekey under traffic with a fake clock, missed and refused rekeys."""

from __future__ import annotations

import hashlib
import hmac
import os

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from protocols.channel import (
    MAX_EPOCH,
    EpochExhaustedError,
    EpochKeys,
    KeyLifetimeError,
    RecordConfig,
    RecordLayer,
    RecordState,
    RecordType,
    initial_epoch_keys,
    next_epoch_keys,
)
from protocols.channel._frames import AAD, HEADER_SIZE, TAG_SIZE, encode_key_id
from protocols.channel.events import (
    MessageReceived,
    RekeyCompleted,
    RekeyKeyRequested,
    RekeyNeeded,
)
from protocols.errors import AuthenticationError, LocalProtocolError, RemoteProtocolError
from tests.protocols.channel._pair import drain, make_pair, transfer


def _hkdf(salt: bytes, ikm: bytes, info: bytes, length: int) -> bytes:
    """RFC 5869 written out with hmac, independent of the implementation under test."""
    prk = hmac.new(salt, ikm, hashlib.sha256).digest()
    okm, block = b"", b""
    for i in range(1, -(-length // 32) + 1):
        block = hmac.new(prk, block + info + bytes([i]), hashlib.sha256).digest()
        okm += block
    return okm[:length]


def test_key_schedule_is_rfc5869_with_the_documented_labels() -> None:
    hh, i2r, r2i, qkd = (bytes([n]) * 32 for n in (1, 2, 3, 4))
    k0 = initial_epoch_keys(hh, i2r, r2i)
    assert bytes(k0.chaining_key) == _hkdf(hh, i2r + r2i, b"qkdlink v1 chaining key", 32)
    k1 = next_epoch_keys(k0, b"key-id-1", qkd)
    okm = _hkdf(
        bytes(k0.chaining_key), qkd, b"qkdlink v1 rekey" + (1).to_bytes(4, "big") + b"key-id-1", 96
    )
    assert k1.epoch == 1
    assert (
        bytes(k1.chaining_key) + bytes(k1.initiator_to_responder) + bytes(k1.responder_to_initiator)
        == okm
    )
    assert "chaining" not in repr(k1)
    assert okm.hex()[:8] not in repr(k1)
    # A different key ID gives different keys, so both ends must agree on the announced ID.
    assert bytes(next_epoch_keys(k0, b"key-id-2", qkd).chaining_key) != bytes(k1.chaining_key)


def _messages(layer: RecordLayer) -> list[bytes]:
    return [e.data for e in drain(layer) if isinstance(e, MessageReceived)]


def test_rekey_under_traffic_with_a_fake_clock() -> None:
    a, b = make_pair(now=0.0)
    epoch0 = a._keys  # the initiator's epoch-0 secrets, to check they get wiped
    a.send_message(b"a0")
    transfer(a, b, now=1.0)
    assert _messages(b) == [b"a0"]
    assert a.get_timer() == 120.0

    a.handle_timer(120.0)
    assert drain(a) == [RekeyNeeded()]
    key_id, qkd = b"0b6e1d0e-2f0a-4c53-9d55-6f7c2a1e9b10", os.urandom(32)
    a.start_rekey(key_id, qkd, 120.0)
    a.send_message(b"a1")  # traffic continues on epoch 0 while the peer fetches the key
    transfer(a, b, now=120.1)
    events = drain(b)
    assert events[0] == RekeyKeyRequested(key_id)
    assert [e.data for e in events if isinstance(e, MessageReceived)] == [b"a1"]

    b.send_message(b"b0")  # responder still on epoch 0
    transfer(b, a, now=120.2)
    assert _messages(a) == [b"b0"]
    a.send_message(b"a2")
    transfer(a, b, now=120.3)
    assert _messages(b) == [b"a2"]

    b.accept_rekey(key_id, qkd, 120.4)
    b.send_message(b"b1")
    transfer(b, a, now=120.5)
    assert b.epoch == 1
    assert drain(a) == [RekeyCompleted(1), MessageReceived(b"b1")]
    assert a.epoch == 1
    assert drain(b) == [RekeyCompleted(1)]
    assert bytes(epoch0.chaining_key) == bytes(32)  # old secrets wiped

    a.send_message(b"a3")
    transfer(a, b, now=121.0)
    assert _messages(b) == [b"a3"]
    assert a.stats.rekeys == b.stats.rekeys == 1
    assert a.get_timer() == pytest.approx(240.5)


def test_missed_rekey_ack_ends_the_channel() -> None:
    a, b = make_pair()
    a.handle_timer(120.0)
    a.start_rekey(b"kid", os.urandom(32), 120.0)
    transfer(a, b, now=120.0)
    assert a.get_timer() == 150.0
    with pytest.raises(KeyLifetimeError):
        a.handle_timer(150.0)
    assert a.state is RecordState.ERROR
    with pytest.raises(LocalProtocolError):
        a.send_message(b"never on an exhausted key")


def test_responder_refuses_to_continue_past_reject_after_time() -> None:
    _, b = make_pair()
    assert b.get_timer() == 180.0
    b.handle_timer(179.9)
    with pytest.raises(KeyLifetimeError):
        b.handle_timer(180.0)
    assert b.state is RecordState.ERROR


def test_initiator_that_never_fetches_a_key_fails_at_reject_after_time() -> None:
    a, _ = make_pair()
    a.handle_timer(130.0)
    assert drain(a) == [RekeyNeeded()]
    with pytest.raises(KeyLifetimeError):
        a.handle_timer(180.0)


def test_record_count_triggers_rekey_and_sending_pauses_before_the_hard_limit() -> None:
    config = RecordConfig(rekey_after_records=4, reject_after_records=8)
    a, b = make_pair(config)
    for i in range(4):
        a.send_message(bytes([i]))
    transfer(a, b)
    assert RekeyNeeded() in drain(a)
    for i in range(6):
        a.send_message(bytes([i]))
    transfer(a, b)  # stops at the pause point (6 records), far from the hard limit (8)
    assert a.send_paused
    assert not a.has_data_to_send
    assert b.stats.records_received == 6
    qkd = os.urandom(32)
    a.start_rekey(b"kid", qkd, 1.0)
    transfer(a, b)  # the REKEY control record still goes out while paused
    drain(b)
    b.accept_rekey(b"kid", qkd, 1.0)
    transfer(b, a)
    assert not a.send_paused
    transfer(a, b)  # the 4 held-back messages follow on the new epoch
    assert _messages(b) == [bytes([i]) for i in range(2, 6)]
    assert a.state is RecordState.OPEN


def test_receiver_refuses_a_peer_that_overuses_a_key() -> None:
    lax = RecordConfig(rekey_after_records=100, reject_after_records=200)
    strict = RecordConfig(rekey_after_records=2, reject_after_records=3)
    hh, i2r, r2i = os.urandom(32), os.urandom(32), os.urandom(32)
    b = RecordLayer(lax, initiator=False, keys=initial_epoch_keys(hh, i2r, r2i), now=0.0)
    a = RecordLayer(strict, initiator=True, keys=initial_epoch_keys(hh, i2r, r2i), now=0.0)
    for _ in range(4):
        b.send_message(b"x")
    with pytest.raises(KeyLifetimeError):
        transfer(b, a)


def test_responder_with_a_different_qkd_key_breaks_authentication() -> None:
    a, b = make_pair()
    a.start_rekey(b"kid", os.urandom(32), 1.0)
    transfer(a, b, now=1.0)
    drain(b)
    b.accept_rekey(b"kid", os.urandom(32), 1.0)
    with pytest.raises(AuthenticationError):
        transfer(b, a, now=1.0)
    assert drain(a) == []


def test_accept_rekey_checks_the_announced_id_and_roles() -> None:
    a, b = make_pair()
    with pytest.raises(LocalProtocolError):
        b.start_rekey(b"kid", os.urandom(32), 0.0)
    with pytest.raises(LocalProtocolError):
        b.accept_rekey(b"kid", os.urandom(32), 0.0)
    a.start_rekey(b"kid", os.urandom(32), 0.0)
    with pytest.raises(LocalProtocolError):
        a.start_rekey(b"kid2", os.urandom(32), 0.0)
    transfer(a, b)
    with pytest.raises(LocalProtocolError):
        b.accept_rekey(b"other", os.urandom(32), 0.0)


def test_window_mode_accepts_old_epoch_records_only_during_the_grace_window() -> None:
    config = RecordConfig(replay_window=64, old_epoch_grace=5.0)
    a, b = make_pair(config)
    qkd = os.urandom(32)
    a.start_rekey(b"kid", qkd, 10.0)
    transfer(a, b, now=10.0)
    b.send_message(b"late-old-1")
    b.send_message(b"late-old-2")
    old = bytes(b.data_to_send())  # two epoch-0 records, held back by the network
    half = len(old) // 2
    b.accept_rekey(b"kid", qkd, 11.0)
    transfer(b, a, now=11.0)  # the ACK arrives first: the initiator switches
    assert RekeyCompleted(1) in drain(a)
    a.receive_data(old[:half], 12.0)  # reordered old-epoch record, within grace
    assert _messages(a) == [b"late-old-1"]
    a.handle_timer(16.5)  # grace over: the epoch-0 receive key is retired
    with pytest.raises(RemoteProtocolError):
        a.receive_data(old[half:], 16.5)


def test_strict_mode_retires_the_old_epoch_at_the_first_new_record() -> None:
    a, b = make_pair()
    qkd = os.urandom(32)
    a.start_rekey(b"kid", qkd, 0.0)
    transfer(a, b)
    b.send_message(b"old")
    old = bytes(b.data_to_send())
    b.accept_rekey(b"kid", qkd, 0.0)
    transfer(b, a)
    with pytest.raises(RemoteProtocolError):
        a.receive_data(old, 0.0)


def _pair_at_epoch(
    epoch: int, config: RecordConfig | None = None
) -> tuple[RecordLayer, RecordLayer]:
    """Two ends whose session already went through `epoch` rekeys (same keys on both sides)."""
    secrets = [os.urandom(32) for _ in range(3)]
    config = config or RecordConfig()
    return (
        RecordLayer(config, initiator=True, keys=EpochKeys(epoch, *secrets), now=0.0),
        RecordLayer(config, initiator=False, keys=EpochKeys(epoch, *secrets), now=0.0),
    )


def test_epoch_numbers_are_bounded_by_the_u32_header_field() -> None:
    assert MAX_EPOCH == 2**32 - 1
    with pytest.raises(ValueError, match="u32"):
        EpochKeys(MAX_EPOCH + 1, bytes(32), bytes(32), bytes(32))
    last = EpochKeys(MAX_EPOCH, bytes(32), bytes(32), bytes(32))
    with pytest.raises(EpochExhaustedError):
        next_epoch_keys(last, b"kid", os.urandom(32))
    assert issubclass(EpochExhaustedError, KeyLifetimeError)


def test_the_last_rekey_works_and_records_carry_the_last_epoch() -> None:
    a, b = _pair_at_epoch(MAX_EPOCH - 1)
    qkd = os.urandom(32)
    a.start_rekey(b"kid", qkd, 0.0)
    transfer(a, b)
    assert drain(b) == [RekeyKeyRequested(b"kid")]
    b.accept_rekey(b"kid", qkd, 0.0)
    b.send_message(b"in the last epoch")
    transfer(b, a)
    assert drain(a) == [RekeyCompleted(MAX_EPOCH), MessageReceived(b"in the last epoch")]
    assert a.epoch == b.epoch == MAX_EPOCH


def test_a_rekey_due_in_the_last_epoch_ends_the_channel_with_a_typed_error() -> None:
    a, _ = _pair_at_epoch(MAX_EPOCH, RecordConfig(rekey_after_records=1, reject_after_records=8))
    a.send_message(b"x")
    with pytest.raises(EpochExhaustedError):
        a.data_to_send()  # the rekey is due now; no epoch number is left for it
    assert a.state is RecordState.ERROR
    assert RekeyNeeded() not in drain(a)  # no QKD key is fetched in vain
    c, _ = _pair_at_epoch(MAX_EPOCH)
    with pytest.raises(EpochExhaustedError):
        c.handle_timer(120.0)  # the same when Rekey-After-Time strikes
    d, _ = _pair_at_epoch(MAX_EPOCH)
    with pytest.raises(EpochExhaustedError):
        d.start_rekey(b"kid", os.urandom(32), 0.0)
    assert d.state is RecordState.ERROR


def test_responder_refuses_a_rekey_announced_in_the_last_epoch() -> None:
    secrets = [os.urandom(32) for _ in range(3)]
    keys = EpochKeys(MAX_EPOCH, *secrets)
    b = RecordLayer(RecordConfig(), initiator=False, keys=keys, now=0.0)
    # A peer that ignores the limit: REKEY encrypted under the genuine last-epoch key.
    payload = encode_key_id(b"kid")
    aad = AAD.pack(RecordType.REKEY, MAX_EPOCH, 0, len(payload) + TAG_SIZE, 0)
    record = aad[:HEADER_SIZE] + AESGCM(secrets[1]).encrypt(bytes(12), payload, aad)
    with pytest.raises(EpochExhaustedError):
        b.receive_data(record, 0.0)
    assert b.state is RecordState.ERROR
    assert drain(b) == []
