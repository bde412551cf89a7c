"""Configuration of the SAE client: where the KME is, which credentials, how long, how often.

`KmeClientConfig` is frozen and validated when built; `from_lab` reads a node of the lab's
`lab.json` (issue 2 point 7) so tools need only a directory and a node name.
"""

from __future__ import annotations

import json
import math
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path

from qkdlink.errors import ConfigurationError

__all__ = ["KmeClientConfig", "RetryPolicy"]


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Bounded retries with capped exponential backoff and full jitter.

    Delay before retry n (n = 1, 2, ...) is uniform in [0, min(max_delay, base_delay * 2**(n-1))]
    ("full jitter", M. Brooker, "Exponential Backoff And Jitter", AWS Architecture Blog, 2015):
    many SAEs retrying against one recovering KME spread out instead of arriving in waves.
    Only 503 and connection failures are retried; 400 and 401 never are.
    """

    attempts: int = 4
    """Total attempts including the first (1 = no retry)."""
    base_delay: float = 0.05
    """Backoff cap of the first retry, in seconds."""
    max_delay: float = 2.0
    """Largest backoff of any retry, in seconds (also caps a KME's Retry-After)."""

    def __post_init__(self) -> None:
        if isinstance(self.attempts, bool) or not isinstance(self.attempts, int):
            raise ConfigurationError("RetryPolicy.attempts must be an integer")
        if not 1 <= self.attempts <= 20:
            raise ConfigurationError("RetryPolicy.attempts must be in 1..20")
        for name in ("base_delay", "max_delay"):
            value = getattr(self, name)
            if not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
                raise ConfigurationError(f"RetryPolicy.{name} must be a finite number >= 0")
        if self.base_delay > self.max_delay:
            raise ConfigurationError("RetryPolicy.base_delay must not exceed max_delay")

    def backoff(self, retry: int, draw: float, retry_after: float | None = None) -> float:
        """Seconds to wait before retry number `retry` (1-based), given `draw` uniform in [0, 1).

        A KME's Retry-After (RFC 9110 section 10.2.3), when given, is a floor, still capped by
        `max_delay` so that a hostile value cannot stall the caller.
        """
        if retry < 1:
            raise ConfigurationError("retry numbers start at 1")
        cap = min(self.max_delay, self.base_delay * 2.0 ** min(retry - 1, 62))
        delay = cap * min(max(draw, 0.0), 1.0)
        if retry_after is not None and retry_after > delay:
            delay = min(retry_after, self.max_delay)
        return delay


def _as_path(value: Path | str, what: str) -> Path:
    if not isinstance(value, Path | str) or not str(value):
        raise ConfigurationError(f"KmeClientConfig.{what} must be a path")
    return Path(value)


@dataclass(frozen=True, slots=True)
class KmeClientConfig:
    """Everything an SAE needs to talk to its KME over mutual TLS (ETSI GS QKD 014 clause 5.1)."""

    url: str
    """Base URL of the KME, `https://host[:port]` (no path; `/api/v1/keys/...` is appended)."""
    kme_id: str
    """The KME ID this SAE expects; checked in the certificate and in every Status."""
    cert: Path
    """PEM certificate of this SAE (its SAE ID is in the certificate, clause 5.1)."""
    key: Path
    """PEM private key of this SAE."""
    ca: Path
    """PEM CA certificate(s) that the KME's certificate must chain to."""
    sae_id: str | None = None
    """This SAE's own ID (informational: the KME reads it from the certificate)."""
    connect_timeout: float = 5.0
    """Seconds to establish TCP + TLS."""
    request_timeout: float = 15.0
    """Seconds for one whole request (connect, send, response), per attempt."""
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    """Retries on 503 and connection errors."""
    max_connections: int = 16
    """Size of the keep-alive connection pool."""
    max_response_bytes: int = 16 * 1024 * 1024
    """Largest response body read; a larger one is a KmeResponseError."""
    check_kme_id_in_certificate: bool = True
    """Confirm the KME ID from the KME's certificate (clause 5.1): the `urn:qkdlink:kme:<ID>` URI
    SAN, or the subject CN when the certificate carries no such URI."""

    def __post_init__(self) -> None:
        parsed = urllib.parse.urlsplit(self.url) if isinstance(self.url, str) else None
        if parsed is None or parsed.scheme != "https" or not parsed.hostname:
            raise ConfigurationError(f"KME URL must be https://host[:port]: {self.url!r}")
        if parsed.path not in ("", "/") or parsed.query or parsed.fragment or parsed.username:
            raise ConfigurationError(f"KME URL must have no path, query or user: {self.url!r}")
        try:
            parsed.port  # noqa: B018 - raises ValueError on a bad port
        except ValueError as exc:
            raise ConfigurationError(f"KME URL has a bad port: {self.url!r}") from exc
        if not isinstance(self.kme_id, str) or not self.kme_id:
            raise ConfigurationError("KmeClientConfig.kme_id must be a non-empty string")
        object.__setattr__(self, "cert", _as_path(self.cert, "cert"))
        object.__setattr__(self, "key", _as_path(self.key, "key"))
        object.__setattr__(self, "ca", _as_path(self.ca, "ca"))
        for name in ("connect_timeout", "request_timeout"):
            value = getattr(self, name)
            if not isinstance(value, int | float) or not math.isfinite(value) or value <= 0:
                raise ConfigurationError(f"KmeClientConfig.{name} must be a positive number")
        if not isinstance(self.retry, RetryPolicy):
            raise ConfigurationError("KmeClientConfig.retry must be a RetryPolicy")
        for name in ("max_connections", "max_response_bytes"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigurationError(f"KmeClientConfig.{name} must be a positive integer")

    @property
    def base_url(self) -> str:
        """The URL without a trailing slash."""
        return self.url.rstrip("/")

    @classmethod
    def from_lab(
        cls, lab_json: Path | str, node: str, *, retry: RetryPolicy | None = None
    ) -> KmeClientConfig:
        """The config of node `node`'s SAE talking to its own KME, read from a `lab.json`.

        Raises:
            ConfigurationError: the file is missing or malformed, or has no such node.
        """
        path = Path(lab_json)
        try:
            lab = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ConfigurationError(f"cannot read lab file {path}: {exc}") from exc
        nodes = lab.get("nodes") if isinstance(lab, dict) else None
        if not isinstance(nodes, dict) or not isinstance(lab.get("ca_cert"), str):
            raise ConfigurationError(f"{path} is not a lab.json (needs ca_cert and nodes)")
        entry = nodes.get(node)
        if not isinstance(entry, dict):
            known = ", ".join(sorted(str(n) for n in nodes))
            raise ConfigurationError(f"node {node!r} is not in {path} (nodes: {known})")
        required = ("kme_id", "kme_url", "sae_id", "sae_cert", "sae_key")
        if not all(isinstance(entry.get(name), str) for name in required):
            raise ConfigurationError(f"node {node!r} in {path} lacks one of {required}")
        return cls(
            url=entry["kme_url"],
            kme_id=entry["kme_id"],
            cert=Path(entry["sae_cert"]),
            key=Path(entry["sae_key"]),
            ca=Path(lab["ca_cert"]),
            sae_id=entry["sae_id"],
            retry=retry if retry is not None else RetryPolicy(),
        )
