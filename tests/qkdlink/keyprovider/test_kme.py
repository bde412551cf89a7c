"""`KmeKeyProvider`: against a real two-node lab, and against a KME that answers wrongly."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import cast

import pytest

from protocols.etsi014 import Key, KeyContainer
from qkdlink.channel import lab_sae_ids
from qkdlink.client import KmeClient, KmeClientConfig
from qkdlink.errors import ConfigurationError, KeyIdError, KmeResponseError
from qkdlink.keyprovider import KeyProvider, KmeKeyProvider
from qkdlink.lab import create_lab, run_lab


@pytest.mark.network
async def test_kme_provider_against_a_real_lab(tmp_path: Path) -> None:
    spec = create_lab(tmp_path / "lab", nodes=("hospital-a", "hospital-b"))
    lab_json = spec.directory / "lab.json"
    sae_ids = lab_sae_ids(lab_json)
    async with (
        run_lab(spec),
        KmeClient(KmeClientConfig.from_lab(lab_json, "hospital-a")) as client_a,
        KmeClient(KmeClientConfig.from_lab(lab_json, "hospital-b")) as client_b,
    ):
        master = KmeKeyProvider(client_a, sae_ids=sae_ids, batch=3)
        slave = KmeKeyProvider(client_b, sae_ids=sae_ids)
        assert isinstance(master, KeyProvider)
        issued = [await master.new_key("hospital-b") for _ in range(4)]  # two enc_keys calls
        assert len({key_id for key_id, _ in issued}) == 4
        for key_id, key in reversed(issued):
            assert await slave.key_by_id("hospital-a", key_id) == key
        with pytest.raises(KeyIdError):
            await slave.key_by_id("hospital-a", issued[0][0])  # the KME delivers it once


class _HostileKme:
    """Stands in for a `KmeClient` whose KME answers with a fixed container, whatever asked."""

    def __init__(self, container: KeyContainer) -> None:
        self.container = container

    async def get_key(self, slave_sae_id: str, *, number: int, size: int | None) -> KeyContainer:
        return self.container

    async def get_key_with_ids(
        self, master_sae_id: str, key_ids: Iterable[uuid.UUID | str]
    ) -> KeyContainer:
        return self.container


_ASKED = uuid.uuid4()


def _container(*keys: tuple[uuid.UUID, int]) -> KeyContainer:
    return KeyContainer(tuple(Key(key_id, b"\x5a" * n) for key_id, n in keys))


@pytest.mark.parametrize(
    "container",
    [
        _container((_ASKED, 32), (uuid.uuid4(), 32)),  # two keys for one ID
        _container((uuid.uuid4(), 32)),  # another key ID
        _container((_ASKED, 16)),  # another size
    ],
    ids=["two-keys", "other-id", "other-size"],
)
async def test_kme_provider_refuses_a_by_id_answer_other_than_the_key_asked(
    container: KeyContainer,
) -> None:
    provider = KmeKeyProvider(cast(KmeClient, _HostileKme(container)), size=256)
    with pytest.raises(KmeResponseError) as caught:
        await provider.key_by_id("peer", str(_ASKED))
    assert "Z" not in str(caught.value)  # no key bytes (0x5a) in the message


@pytest.mark.parametrize(
    "container",
    [_container((uuid.uuid4(), 32)), _container((uuid.uuid4(), 32), (uuid.uuid4(), 16))],
    ids=["too-few", "other-size"],
)
async def test_kme_provider_refuses_an_enc_keys_answer_other_than_asked(
    container: KeyContainer,
) -> None:
    provider = KmeKeyProvider(cast(KmeClient, _HostileKme(container)), batch=2, size=256)
    with pytest.raises(KmeResponseError):
        await provider.new_key("peer")


class _UncalledKme:
    """A `KmeClient` stand-in that fails the test if the provider asks its KME anything."""

    async def get_key_with_ids(
        self, master_sae_id: str, key_ids: Iterable[uuid.UUID | str]
    ) -> KeyContainer:
        raise AssertionError("a malformed key ID reached the KME")


@pytest.mark.parametrize("key_id", ["not-a-uuid", "", "\n[forged log line]"])
async def test_kme_provider_refuses_a_malformed_key_id_from_the_peer(key_id: str) -> None:
    provider = KmeKeyProvider(cast(KmeClient, _UncalledKme()))
    with pytest.raises(KeyIdError) as caught:
        await provider.key_by_id("peer", key_id)
    assert "forged" not in str(caught.value)  # the peer's text is not echoed


def test_kme_provider_size_must_be_whole_bytes() -> None:
    client = cast(KmeClient, _HostileKme(_container((_ASKED, 32))))
    for size in (0, 12):
        with pytest.raises(ConfigurationError):
            KmeKeyProvider(client, size=size)
