"""Build a link's `KeySource` from its config: `test`, `file`, or a plugin import string.

Plugins are named "package.module:callable" and imported only when a config asks for them, so
qkdlink never imports `simulators` (or anything else outside its layer) statically.
"""

from __future__ import annotations

import importlib
from typing import Any

from qkdlink.errors import ConfigurationError
from qkdlink.keysource import FileKeySource, KeySource, TestKeySource
from qkdlink.kme._config import KeySourceConfig

__all__ = ["BB84_PLUGIN", "make_key_source"]

BB84_PLUGIN = "simulators.bb84:make_key_source"
"""The BB84 simulator's factory `(link_id, *, seed: int, distance_km: float, **params)`."""


def _test_source(link_id: str, params: dict[str, Any]) -> TestKeySource:
    seed = params.pop("seed", "qkdlink-test-source")
    if isinstance(seed, int):
        seed = str(seed)
    if not isinstance(seed, str):
        raise ConfigurationError("test key source seed must be a string or integer")
    return TestKeySource(link_id, seed=seed.encode(), **params)


def make_key_source(link_id: str, config: KeySourceConfig) -> KeySource:
    """Construct the key source for one link end (both ends get identical streams).

    Raises:
        ConfigurationError: unknown parameters, or a plugin that cannot be imported or does not
            return a `KeySource`.
    """
    params = dict(config.params)
    try:
        if config.kind == "test":
            return _test_source(link_id, params)
        if config.kind == "file":
            path = params.pop("path")
            return FileKeySource(link_id, path, **params)
        module_name, _, attr = (config.factory or "").partition(":")
        try:
            factory = getattr(importlib.import_module(module_name), attr)
        except (ImportError, AttributeError) as exc:
            raise ConfigurationError(f"cannot load key source plugin {config.factory!r}") from exc
        source = factory(link_id, **params)
    except TypeError as exc:
        raise ConfigurationError(f"bad key source parameters for {config.kind}: {exc}") from exc
    if not isinstance(source, KeySource):
        raise ConfigurationError(f"plugin {config.factory!r} did not return a KeySource")
    return source
