"""`SyncKmeClient`: `KmeClient` for engines that are not async (MPC/HE engines, scripts).

The async client runs on a private event loop in one background thread; each call is submitted
with `asyncio.run_coroutine_threadsafe` and waited for. The caller's thread never runs a loop, so
this works inside programs that already run their own loop in another thread.
"""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import Coroutine, Iterable, Mapping, Sequence
from types import TracebackType
from typing import Any, Self, TypeVar

from protocols.etsi014 import JsonValue, KeyContainer, KeyIds, Status
from qkdlink.client._client import KmeClient
from qkdlink.client._config import KmeClientConfig
from qkdlink.errors import BusyError, ChannelClosedError

__all__ = ["SyncKmeClient"]

_T = TypeVar("_T")


class SyncKmeClient:
    """Blocking twin of `KmeClient` with the same methods and errors.

    Use as `with SyncKmeClient(config) as kme: kme.get_key("SAE_b", number=2)`.
    """

    def __init__(self, config: KmeClientConfig) -> None:
        """Start the background loop and open the client.

        Raises:
            ConfigurationError: the certificate, key or CA cannot be loaded.
        """
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="qkdlink-kme-client", daemon=True
        )
        self._thread.start()
        self._client = KmeClient(config)
        self._closed = False
        try:
            self._run(self._client.open())
        except BaseException:
            self.close()
            raise

    def __repr__(self) -> str:
        return f"Sync{self._client!r}"

    def _run(self, coro: Coroutine[Any, Any, _T]) -> _T:
        if threading.current_thread() is self._thread:
            coro.close()
            # Waiting here from the loop's own thread would deadlock.
            raise BusyError("SyncKmeClient called from its own event loop thread")
        if self._closed:
            coro.close()
            raise ChannelClosedError("this SyncKmeClient was closed")
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result()

    def status(self, slave_sae_id: str) -> Status:
        """Blocking `KmeClient.status`; raises what it raises."""
        return self._run(self._client.status(slave_sae_id))

    def get_key(
        self,
        slave_sae_id: str,
        *,
        number: int = 1,
        size: int | None = None,
        additional_slave_sae_ids: Sequence[str] = (),
        extension_mandatory: Sequence[Mapping[str, JsonValue]] = (),
        extension_optional: Sequence[Mapping[str, JsonValue]] = (),
    ) -> KeyContainer:
        """Blocking `KmeClient.get_key` (enc_keys); raises what it raises."""
        return self._run(
            self._client.get_key(
                slave_sae_id,
                number=number,
                size=size,
                additional_slave_sae_ids=additional_slave_sae_ids,
                extension_mandatory=extension_mandatory,
                extension_optional=extension_optional,
            )
        )

    def get_key_with_ids(
        self, master_sae_id: str, key_ids: KeyIds | Iterable[uuid.UUID | str]
    ) -> KeyContainer:
        """Blocking `KmeClient.get_key_with_ids` (dec_keys); raises what it raises."""
        return self._run(self._client.get_key_with_ids(master_sae_id, key_ids))

    def close(self) -> None:
        """Close the client, stop the loop and join its thread. Closing twice is harmless."""
        if self._closed:
            return
        try:
            if self._thread.is_alive():
                asyncio.run_coroutine_threadsafe(self._client.aclose(), self._loop).result()
        finally:
            self._closed = True
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join()
            self._loop.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
