"""The SAE client of ETSI GS QKD 014: fetch QKD keys from a KME over mutual TLS.

- `KmeClientConfig(url, kme_id, cert, key, ca, ...)` or `KmeClientConfig.from_lab(lab_json,
  node)`; `RetryPolicy(attempts, base_delay, max_delay)` (bounded, exponential, full jitter).
- `KmeClient(config)` (async, `async with`): `status(slave_sae_id) -> Status`,
  `get_key(slave_sae_id, number=1, size=None, additional_slave_sae_ids=(),
  extension_mandatory=(), extension_optional=()) -> KeyContainer` (enc_keys),
  `get_key_with_ids(master_sae_id, key_ids) -> KeyContainer` (dec_keys).
- `SyncKmeClient(config)`: the same methods, blocking, for engines that are not async.

Errors (all `qkdlink.errors`): `KmeBadRequestError` (400, `.message`, `.details`),
`KmeUnauthorizedError` (401), `KmeUnavailableError` (503 or unreachable after retries),
`KmeResponseError` (a response the spec does not allow, or a Status of another KME),
`AuthenticationError` (the KME's certificate fails verification or names another KME ID),
`ConfigurationError` (bad config or unreadable credentials).
"""

from qkdlink.client._client import KmeClient
from qkdlink.client._config import KmeClientConfig, RetryPolicy
from qkdlink.client._sync import SyncKmeClient
from qkdlink.client._tls import client_ssl_context, kme_id_of_certificate

__all__ = [
    "KmeClient",
    "KmeClientConfig",
    "RetryPolicy",
    "SyncKmeClient",
    "client_ssl_context",
    "kme_id_of_certificate",
]
