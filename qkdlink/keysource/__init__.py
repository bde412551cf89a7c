"""Where a link's raw QKD key material comes from: the `KeySource` interface and its lab sources.

Both ends of a link construct a source with the same parameters and see the identical stream of
`KeyBlock`s (same `block_id`, same bytes). KMEs slice those blocks into ETSI 014 keys. A source
may also report its link's figures (`ReportsLinkStatistics`: attempts, pulses, QBER, key rate),
never its key material.
"""

from qkdlink.keysource._base import KeyBlock, KeySource
from qkdlink.keysource._file import FileKeySource
from qkdlink.keysource._statistics import LinkStatistics, ReportsLinkStatistics
from qkdlink.keysource._test import TestKeySource

__all__ = [
    "FileKeySource",
    "KeyBlock",
    "KeySource",
    "LinkStatistics",
    "ReportsLinkStatistics",
    "TestKeySource",
]
