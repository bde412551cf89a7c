"""SyncKmeClient: the same calls and errors, blocking, from a thread without an event loop."""

from __future__ import annotations

import asyncio
import threading

import pytest

from qkdlink.client import KmeClientConfig, SyncKmeClient
from qkdlink.errors import ChannelClosedError, ConfigurationError, KmeBadRequestError

from ._fake_kme import SAE_A, SAE_B, Lab, RunningKme, client_config


def _loop_threads() -> int:
    return sum(t.name == "qkdlink-kme-client" and t.is_alive() for t in threading.enumerate())


async def test_sync_round_trip_from_another_thread(
    config: KmeClientConfig, kme: RunningKme
) -> None:
    # The test server runs on this loop; the sync client is driven from a plain thread.
    def work() -> tuple[bool, str]:
        with SyncKmeClient(config) as client:
            assert client.status(SAE_B).slave_sae_id == SAE_B
            enc = client.get_key(SAE_B, number=2, size=512)
            dec = client.get_key_with_ids(SAE_A, enc.key_ids)
            with pytest.raises(KmeBadRequestError):
                client.get_key_with_ids(SAE_A, enc.key_ids)  # delivered once, then gone
            return dec == enc, repr(client)

    same, text = await asyncio.to_thread(work)
    assert same
    assert text.startswith("SyncKmeClient(")
    assert [r[0] for r in kme.fake.requests] == ["GET", "POST", "POST", "POST"]


async def test_sync_close_is_final(config: KmeClientConfig) -> None:
    def work() -> None:
        client = SyncKmeClient(config)
        assert _loop_threads() == 1
        client.close()
        client.close()
        assert _loop_threads() == 0  # the loop thread is gone
        with pytest.raises(ChannelClosedError):
            client.status(SAE_B)

    await asyncio.to_thread(work)


def test_sync_bad_credentials_leave_no_thread(lab: Lab) -> None:
    config = client_config(lab, "https://127.0.0.1:1", ca=lab.sae.key)  # a key is not a CA
    with pytest.raises(ConfigurationError):
        SyncKmeClient(config)
    assert _loop_threads() == 0
