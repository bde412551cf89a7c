"""A running KME: store, link ingestion and sync tasks, and the HTTPS server, as one resource.

async with KmeServer(config) as kme:
    print(kme.url)
    await kme.serve_forever()
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Coroutine
from typing import Any, Self

from aiohttp import web

from qkdlink._aclose import AsyncClosing
from qkdlink.errors import ConfigurationError
from qkdlink.keysource import KeySource, LinkStatistics, ReportsLinkStatistics
from qkdlink.keystore import KeyStore
from qkdlink.keystore._config import open_key_store
from qkdlink.kme._config import KmeConfig
from qkdlink.kme._delivered import DeliveredKeys
from qkdlink.kme._http import build_app
from qkdlink.kme._ingest import LinkIngestor
from qkdlink.kme._service import KmeService, LinkRuntime, own_partition
from qkdlink.kme._sources import make_key_source
from qkdlink.kme._sync import MasterSync, PeerClient
from qkdlink.kme._tls import client_ssl_context, server_ssl_context

__all__ = ["KmeServer"]

_log = logging.getLogger("qkdlink.kme")


class KmeServer(AsyncClosing):
    """One KME process's runtime (see module docstring); `aclose()` stops everything."""

    def __init__(self, config: KmeConfig, *, store: KeyStore | None = None) -> None:
        self.config = config
        self._store = store
        self._owns_store = store is None
        self._sources: dict[str, KeySource] = {}
        self._peers: list[PeerClient] = []
        self._tasks: list[asyncio.Task[None]] = []
        self._runner: web.AppRunner | None = None
        self._port: int | None = None
        self._service: KmeService | None = None
        self.links: dict[str, LinkRuntime] = {}

    @property
    def port(self) -> int:
        """The bound TCP port (useful with `listen.port = 0`)."""
        if self._port is None:
            raise ConfigurationError("KME is not started")
        return self._port

    @property
    def url(self) -> str:
        """The base URL SAEs use, e.g. https://127.0.0.1:8443."""
        return f"https://{self.config.listen.host}:{self.port}"

    @property
    def store(self) -> KeyStore:
        if self._store is None:
            raise ConfigurationError("KME is not started")
        return self._store

    @property
    def delivered(self) -> DeliveredKeys:
        """Keys this KME delivered since it started: enc_keys to masters, dec_keys to slaves,
        each counted when its delivery committed (refused or failed requests count nothing).

        Raises:
            ConfigurationError: the KME was never started.
        """
        if self._service is None:
            raise ConfigurationError("KME is not started")
        return self._service.delivered

    def link_statistics(self, link_id: str, attempts: int | None = None) -> LinkStatistics | None:
        """What link `link_id`'s key source reports about its distillation so far (a snapshot),
        or as it stood after `attempts` attempts; None if that source does not report (test or
        file source) or has not reached (or no longer keeps) that point.

        Raises:
            ConfigurationError: the KME is not running (not started, or closed), or has no link
                `link_id`.
        """
        if self._runner is None:
            raise ConfigurationError("KME is not running")
        source = self._sources.get(link_id)
        if source is None:
            raise ConfigurationError(f"KME {self.config.kme_id} has no link {link_id!r}")
        if not isinstance(source, ReportsLinkStatistics):
            return None
        return source.statistics if attempts is None else source.statistics_after(attempts)

    async def start(self) -> None:
        """Open the store, start ingestion and sync per link, and listen.

        Raises:
            ConfigurationError: TLS files, key sources or the store config are unusable.
            KeyStoreError: the store cannot be opened.
            OSError: the listen address is in use.
        """
        try:
            await self._start()
        except BaseException:
            await self.aclose()
            raise

    async def _start(self) -> None:
        config = self.config
        if self._store is None:
            self._store = await open_key_store(config.store)
        store = self._store
        limits = config.limits
        cap_bytes = limits.max_key_count * limits.key_size // 8
        for peer in config.peers:
            source = make_key_source(peer.link_id, peer.key_source)
            self._sources[peer.link_id] = source
            client_ctx = client_ssl_context(config.tls, peer.kme_id)
            client = PeerClient(peer.url, peer.kme_id, client_ctx, limits.peer_timeout_s)
            self._peers.append(client)
            partition = own_partition(config.kme_id, peer.kme_id)
            link = LinkRuntime(
                peer=peer,
                ingestor=LinkIngestor(peer.link_id, source, store, cap_bytes),
                sync=MasterSync(
                    link_id=peer.link_id, partition=partition, store=store, peer=client
                ),
                partition=partition,
                assign_lock=asyncio.Lock(),
            )
            self.links[peer.link_id] = link
            self._tasks.append(
                asyncio.create_task(self._guard(link.ingestor.run(), "ingest", peer.link_id))
            )
            self._tasks.append(
                asyncio.create_task(self._guard(link.sync.run(), "sync", peer.link_id))
            )
        service = self._service = KmeService(config, store, self.links)
        app = build_app(
            service,
            max_body_bytes=limits.max_body_bytes,
            max_concurrent=limits.max_concurrent_requests,
        )
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(
            self._runner,
            config.listen.host,
            config.listen.port,
            ssl_context=server_ssl_context(config.tls),
            reuse_address=True,
        )
        await site.start()
        self._port = int(self._runner.addresses[0][1])
        _log.info("KME %s listening on %s", config.kme_id, self.url)

    async def _guard(self, coro: Coroutine[Any, Any, None], what: str, link_id: str) -> None:
        """Run a background loop; log (by type only) if it dies, without taking the KME down."""
        try:
            await coro
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            _log.error("%s loop of link %s stopped: %s", what, link_id, type(exc).__name__)

    async def serve_forever(self) -> None:
        """Wait until cancelled."""
        await asyncio.Event().wait()

    async def aclose(self) -> None:
        """Stop listening, stop the link tasks, close peers, sources and the store."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
        for client in self._peers:
            await client.aclose()
        self._peers.clear()
        for source in self._sources.values():
            await source.aclose()
        self._sources.clear()
        if self._owns_store and self._store is not None:
            await self._store.aclose()
            self._store = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self
