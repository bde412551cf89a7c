"""Correlated randomness for MPC from QKD keys: seeds, PRGs, PRZS, replicated sharing, PRSS.

Pure computation (no sockets, no clock): QKD keys become 256-bit seeds (HKDF, RFC 5869), one key
ID per seed and purpose (`SeedLedger`), and seeds become AES-256-CTR streams written straight into
numpy arrays over Z_2^32, Z_2^64 and prime fields. `agree_pair_seed`/`agree_group_seed` run the
key-ID exchange over any `SeedExchange` (the party mesh is one). `KeyProvider` and
`InMemoryKeyPool` are aliases of the same names in `qkdlink.keyprovider`, shared with channels.
"""

from qkdlink.keyprovider import InMemoryKeyPool, KeyProvider  # aliases, shared with channels
from qkdlink.randomness._agreement import SeedExchange, agree_group_seed, agree_pair_seed
from qkdlink.randomness._correlated import CommonCoins, Prss, Przs, ReplicatedSeeds
from qkdlink.randomness._kdf import LABEL_VERSION, SEED_BYTES, encode_label
from qkdlink.randomness._ledger import SeedLedger, SeedRecord
from qkdlink.randomness._prg import Prg
from qkdlink.randomness._seeds import (
    GroupSeed,
    PairSeed,
    derive_pair_seed,
    leader_group_seed,
    unwrap_group_seed,
    wrap_group_seed,
)

__all__ = [
    "LABEL_VERSION",
    "SEED_BYTES",
    "CommonCoins",
    "GroupSeed",
    "InMemoryKeyPool",
    "KeyProvider",
    "PairSeed",
    "Prg",
    "Prss",
    "Przs",
    "ReplicatedSeeds",
    "SeedExchange",
    "SeedLedger",
    "SeedRecord",
    "agree_group_seed",
    "agree_pair_seed",
    "derive_pair_seed",
    "encode_label",
    "leader_group_seed",
    "unwrap_group_seed",
    "wrap_group_seed",
]
