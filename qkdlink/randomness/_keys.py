"""The key providers seeds use, under this package's names: aliases of `qkdlink.keyprovider`.

`KeyProvider` is `qkdlink.keyprovider.KeyProvider` and `InMemoryKeyPool` is
`qkdlink.keyprovider.InMemoryKeyPool` (one protocol and one test pool, shared with channels).
"""

from qkdlink.keyprovider import InMemoryKeyPool, KeyProvider

__all__ = ["InMemoryKeyPool", "KeyProvider"]
