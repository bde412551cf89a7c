"""Fixtures: the lab PKI, a scripted KME over mutual TLS, a client config for it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from qkdlink.client import KmeClientConfig

from ._fake_kme import Lab, RunningKme, client_config, make_lab, start_kme


@pytest.fixture(scope="session")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Lab:
    return make_lab(tmp_path_factory.mktemp("pki"))


@pytest.fixture
async def kme(lab: Lab) -> AsyncIterator[RunningKme]:
    runner, running = await start_kme(lab, lab.kme)
    yield running
    await runner.cleanup()


@pytest.fixture
def config(lab: Lab, kme: RunningKme) -> KmeClientConfig:
    return client_config(lab, kme.url)
