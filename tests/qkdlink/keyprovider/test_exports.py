"""The public surface of qkdlink.keyprovider is pinned, and the older names are aliases of it."""

from __future__ import annotations

import qkdlink.channel
import qkdlink.keyprovider
import qkdlink.randomness
from qkdlink.keyprovider import InMemoryKeyPool, KeyProvider, KmeKeyProvider


def test_package_exports() -> None:
    assert sorted(qkdlink.keyprovider.__all__) == [
        "InMemoryKeyPool",
        "KeyProvider",
        "KmeKeyProvider",
    ]


def test_channel_and_randomness_names_are_the_same_objects() -> None:
    assert qkdlink.channel.QkdKeyProvider is KeyProvider
    assert qkdlink.channel.InMemoryQkdLink is InMemoryKeyPool
    assert qkdlink.channel.KmeKeyProvider is KmeKeyProvider
    assert qkdlink.randomness.KeyProvider is KeyProvider
    assert qkdlink.randomness.InMemoryKeyPool is InMemoryKeyPool
