"""What a KME does for each request, independent of HTTP: authorize, validate, deliver.

Authorization (ETSI GS QKD 014 clauses 5.1-5.4): the caller's identity comes from its verified
client certificate. Only SAEs attached to this KME may call the SAE API: as master (status,
enc_keys, for slaves attached to a peer KME) or as slave (dec_keys, only keys assigned to it).
Only the configured peer KME of a link may call the peer API, and only for its own partition.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from protocols.etsi014 import (
    MSG_KEY_DATA_ACCESS_ERROR,
    MSG_KEYS_NOT_FOUND,
    MSG_TOO_MANY_KEY_IDS,
    ErrorBody,
    KeyIds,
    KeyRequest,
    Status,
    validate_key_request,
)
from qkdlink.errors import (
    KeyExhaustedError,
    KeyIdError,
    KeyNotEntitledError,
    KeyStoreError,
    PeerKmeError,
)
from qkdlink.keystore import KeyStore, StoredKey
from qkdlink.kme._config import KmeConfig, PeerConfig
from qkdlink.kme._delivered import DeliveredKeys
from qkdlink.kme._ingest import LinkIngestor
from qkdlink.kme._peer_wire import AssignGroup
from qkdlink.kme._sync import MasterSync
from qkdlink.pki import Identity, IdentityKind

__all__ = ["KmeReplyError", "KmeService", "LinkRuntime", "own_partition"]

MSG_UNAUTHORIZED = "unauthorized"
MSG_UNKNOWN_SLAVE = "slave SAE ID is not attached to a peer KME of this KME"
MSG_SLAVES_SPLIT = "additional_slave_SAE_IDs shall be attached to the same KME as the slave SAE"
MSG_NOT_ENOUGH_KEY = "not enough key material; retry later"
MSG_PEER_UNAVAILABLE = "peer KME did not confirm the keys; retry later"


class KmeReplyError(Exception):
    """A request ends with this HTTP status and (for 400/503) this Error body."""

    def __init__(self, status: int, body: ErrorBody) -> None:
        super().__init__(f"{status}: {body.message}")
        self.status = status
        self.body = body

    @classmethod
    def bad_request(cls, message: str, **details: str) -> KmeReplyError:
        return cls(400, ErrorBody(message, (dict(details),) if details else ()))

    @classmethod
    def unauthorized(cls) -> KmeReplyError:
        return cls(401, ErrorBody(MSG_UNAUTHORIZED))

    @classmethod
    def unavailable(cls, message: str = MSG_KEY_DATA_ACCESS_ERROR) -> KmeReplyError:
        return cls(503, ErrorBody(message))


def own_partition(kme_id: str, peer_kme_id: str) -> int:
    """The partition a KME reserves from: 0 for the lexicographically smaller KME ID."""
    return 0 if kme_id < peer_kme_id else 1


@dataclass(frozen=True, slots=True)
class LinkRuntime:
    """The running parts of one link at this KME."""

    peer: PeerConfig
    ingestor: LinkIngestor
    sync: MasterSync
    partition: int
    """This KME's own partition (the peer's is 1 - partition)."""
    assign_lock: asyncio.Lock
    """Serialises the peer's assignments so their offsets are applied in order."""


class KmeService:
    """The request logic of one KME (HTTP in `_http.py`, lifecycle in `_server.py`)."""

    def __init__(
        self, config: KmeConfig, store: KeyStore, links: Mapping[str, LinkRuntime]
    ) -> None:
        self._config = config
        self._store = store
        self._links = links
        self._local = frozenset(config.sae_ids)
        self._link_of_sae = {sae: links[p.link_id] for p in config.peers for sae in p.sae_ids}
        self._limits_of_pair: dict[tuple[str, str], Status] = {}
        """Status without a pool count per (master, slave), for validating enc_keys requests:
        built from the config alone, so once per pair (both IDs come from the config)."""
        self._enc_delivered = 0
        self._dec_delivered = 0

    @property
    def delivered(self) -> DeliveredKeys:
        """Keys delivered since start (`_delivered.py`: counted when a delivery commits)."""
        return DeliveredKeys(enc_keys=self._enc_delivered, dec_keys=self._dec_delivered)

    # --- SAE API ----------------------------------------------------------------------------

    def _master_link(self, caller: Identity, slave_sae_id: str) -> LinkRuntime:
        if caller.kind is not IdentityKind.SAE or caller.id not in self._local:
            raise KmeReplyError.unauthorized()
        link = self._link_of_sae.get(slave_sae_id)
        if link is None:
            raise KmeReplyError.bad_request(MSG_UNKNOWN_SLAVE, slave_SAE_ID=slave_sae_id)
        return link

    async def _status_for(
        self, caller: Identity, slave_sae_id: str, link: LinkRuntime, *, count: bool = True
    ) -> Status:
        """The Status of clause 6.1; `count=False` skips the store read (for validation only)."""
        limits = self._config.limits
        pool = 0
        if count:
            try:
                pool = await self._store.pool_bytes(link.peer.link_id, link.partition)
            except KeyStoreError as exc:
                raise KmeReplyError.unavailable() from exc
        return Status(
            source_kme_id=self._config.kme_id,
            target_kme_id=link.peer.kme_id,
            master_sae_id=caller.id,
            slave_sae_id=slave_sae_id,
            key_size=limits.key_size,
            stored_key_count=min(pool // (limits.key_size // 8), limits.max_key_count),
            max_key_count=limits.max_key_count,
            max_key_per_request=limits.max_key_per_request,
            max_key_size=limits.max_key_size,
            min_key_size=limits.min_key_size,
            max_sae_id_count=limits.max_SAE_ID_count,
        )

    async def status(self, caller: Identity, slave_sae_id: str) -> Status:
        """Get status (clause 5.2) for the calling master and a slave.

        Raises:
            KmeReplyError: 401 (not a local SAE), 400 (unknown slave), 503 (store failed).
        """
        link = self._master_link(caller, slave_sae_id)
        return await self._status_for(caller, slave_sae_id, link)

    async def enc_keys(
        self, caller: Identity, slave_sae_id: str, request: KeyRequest
    ) -> list[StoredKey]:
        """Get key (clause 5.3): new keys for the calling master, synchronised with the peer.

        Raises:
            KmeReplyError: 401, 400 (rules of clause 6.2, slaves on different KMEs), 503 (pool
                exhausted, peer KME unavailable, store failed).
        """
        link = self._master_link(caller, slave_sae_id)
        # Validation reads only the limits; the pool is checked by the reservation itself.
        status = self._limits_of_pair.get((caller.id, slave_sae_id))
        if status is None:
            status = await self._status_for(caller, slave_sae_id, link, count=False)
            self._limits_of_pair[caller.id, slave_sae_id] = status
        valid = validate_key_request(request, status)
        for extra in valid.additional_slave_sae_ids:
            if self._link_of_sae.get(extra) is not link:
                raise KmeReplyError.bad_request(MSG_SLAVES_SPLIT, slave_SAE_ID=extra)
        slaves = (slave_sae_id, *valid.additional_slave_sae_ids)
        try:
            reserved = await link.sync.reserve(caller.id, slaves, [valid.size // 8] * valid.number)
        except KeyExhaustedError as exc:
            raise KmeReplyError.unavailable(MSG_NOT_ENOUGH_KEY) from exc
        except PeerKmeError as exc:
            raise KmeReplyError.unavailable(MSG_PEER_UNAVAILABLE) from exc
        except KeyStoreError as exc:
            raise KmeReplyError.unavailable() from exc
        # The peer confirmed: these keys are the master's now and never handed out again.
        self._enc_delivered += len(reserved)
        return reserved

    async def dec_keys(
        self, caller: Identity, master_sae_id: str, key_ids: KeyIds
    ) -> list[StoredKey]:
        """Get key with key IDs (clause 5.4): deliver keys assigned to the calling slave, once.

        Raises:
            KmeReplyError: 401 (not a local SAE, or a key of another pair), 400 (unknown or
                already delivered IDs, too many IDs), 503 (store failed).
        """
        if caller.kind is not IdentityKind.SAE or caller.id not in self._local:
            raise KmeReplyError.unauthorized()
        limits = self._config.limits
        if len(key_ids.key_ids) > limits.max_key_per_request:
            raise KmeReplyError.bad_request(
                MSG_TOO_MANY_KEY_IDS,
                count=str(len(key_ids.key_ids)),
                max_key_per_request=str(limits.max_key_per_request),
            )
        ids = [str(i) for i in key_ids.ids]
        deadline = time.monotonic() + limits.dec_keys_wait_s
        while True:
            try:
                stored = await self._store.take(master_sae_id, caller.id, ids)
                break
            except KeyNotEntitledError as exc:
                raise KmeReplyError.unauthorized() from exc
            except KeyIdError as exc:
                if time.monotonic() >= deadline:
                    raise KmeReplyError.bad_request(MSG_KEYS_NOT_FOUND) from exc
                await asyncio.sleep(0.02)
            except KeyStoreError as exc:
                raise KmeReplyError.unavailable() from exc
        # The take committed (all or nothing): the slave's copies are gone from the store.
        self._dec_delivered += len(stored)
        return stored

    # --- peer API ---------------------------------------------------------------------------

    async def peer_assign(
        self, caller: Identity, link_id: str, partition: int, groups: Sequence[AssignGroup]
    ) -> int:
        """Apply a peer KME's key assignments for its own partition; returns the key count.

        Waits a bounded time (`ingest_wait_s`) for ingestion to reach the assigned ranges.

        Raises:
            KmeReplyError: 401 (not the link's peer KME), 400 (foreign partition, SAEs not on
                the right KMEs, duplicate IDs), 503 (material not ingested in time, store).
        """
        link = self._links.get(link_id)
        if caller.kind is not IdentityKind.KME or link is None or link.peer.kme_id != caller.id:
            raise KmeReplyError.unauthorized()
        # The peer may only hand out bytes of ITS partition: accepting ours would let two
        # masters use the same bytes.
        if partition != 1 - link.partition:
            raise KmeReplyError.bad_request(
                "partition is not the peer KME's", partition=str(partition)
            )
        for group in groups:
            if group.master_sae_id not in link.peer.sae_ids:
                raise KmeReplyError.bad_request("master SAE is not attached to the peer KME")
            if not group.slave_sae_ids or not set(group.slave_sae_ids) <= self._local:
                raise KmeReplyError.bad_request("slave SAEs are not attached to this KME")
        deadline = time.monotonic() + self._config.limits.ingest_wait_s
        count = 0
        async with link.assign_lock:
            for group in groups:
                while True:
                    try:
                        await self._store.assign(
                            link_id, partition, group.keys, group.master_sae_id, group.slave_sae_ids
                        )
                        break
                    except KeyExhaustedError as exc:
                        remaining = deadline - time.monotonic()
                        if remaining <= 0 or not await link.ingestor.wait_for_progress(remaining):
                            raise KmeReplyError.unavailable(
                                "key material not ingested yet"
                            ) from exc
                    except KeyIdError as exc:
                        raise KmeReplyError.bad_request("key ID or range already used") from exc
                    except KeyStoreError as exc:
                        raise KmeReplyError.unavailable() from exc
                count += len(group.keys)
        return count
