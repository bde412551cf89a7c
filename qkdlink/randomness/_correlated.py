"""Correlated randomness from shared seeds: PRZS, replicated 3-party sharing, PRSS, common coins.

Each generator owns AES-256-CTR streams (`Prg`) keyed by HKDF-Expand(seed, label) where the label
names the construction, the purpose and the stream's position (pair or subset), so the streams of
different constructions or purposes never share a key. Parties that share a seed build the same
stream and stay in step by drawing the same amounts in the same order (the protocol's job).

References: CrypTen (Knott et al., NeurIPS 2021) PRZS with next/previous generators; ABY3
(Mohassel and Rindal, CCS 2018) section 2.2 and Falcon (Wagh et al., PoPETs 2021) for replicated
sharing; Cramer, Damgard and Ishai (TCC 2005) for PRSS as MPyC implements it.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence

import numpy as np
import numpy.typing as npt

from qkdlink.errors import ConfigurationError
from qkdlink.randomness._prg import Prg

__all__ = ["CommonCoins", "Prss", "Przs", "ReplicatedSeeds"]

_RING_DTYPES: dict[int, type[np.unsignedinteger]] = {32: np.uint32, 64: np.uint64}


def _ring_dtype(bits: int) -> type[np.unsignedinteger]:
    try:
        return _RING_DTYPES[bits]
    except KeyError:
        raise ConfigurationError("ring bits must be 32 or 64") from None


def _output(
    out: npt.NDArray[np.unsignedinteger] | None, count: int, bits: int
) -> npt.NDArray[np.unsignedinteger]:
    dtype = _ring_dtype(bits)
    if out is None:
        return np.empty(count, dtype=dtype)
    if out.dtype != dtype or out.shape != (count,) or not out.flags.c_contiguous:
        raise ConfigurationError("out must be a contiguous 1-d array of count ring elements")
    return out


def _index(parties: Sequence[str], party: str) -> int:
    if len(set(parties)) != len(parties):
        raise ConfigurationError("party ids must be distinct")
    try:
        return list(parties).index(party)
    except ValueError:
        raise ConfigurationError(f"{party!r} is not one of the parties") from None


class Przs:
    """Pseudo-random zero sharing over a ring of parties (CrypTen's PRZS).

    Party i's share is G(s_{i,i+1}) - G(s_{i-1,i}) where s are pair seeds of ring neighbours; the
    shares of all parties telescope to 0. With two parties, party 0 holds G(s) and party 1
    holds -G(s). Every draw gives fresh zero shares; all parties must draw the same sizes in the
    same order.
    """

    def __init__(
        self, party: str, parties: Sequence[str], seeds: Mapping[str, bytes], purpose: str
    ) -> None:
        """`seeds` maps each ring neighbour's id to the pair seed shared with it."""
        i = _index(parties, party)
        n = len(parties)
        if n < 2:
            raise ConfigurationError("a zero sharing needs at least two parties")
        nxt, prv = parties[(i + 1) % n], parties[(i - 1) % n]
        for neighbour in {nxt, prv}:
            if neighbour not in seeds:
                raise ConfigurationError(f"missing the pair seed with {neighbour!r}")
        self._purpose = purpose
        self._sign = 0
        if n == 2:
            self._sign = 1 if i == 0 else -1
            self._single = Prg(seeds[nxt], "przs", purpose, *sorted((party, nxt)))
            return
        self._next = Prg(seeds[nxt], "przs", purpose, party, nxt)
        self._prev = Prg(seeds[prv], "przs", purpose, prv, party)

    def __repr__(self) -> str:
        return f"Przs(purpose={self._purpose!r})"

    def zero_share(
        self, count: int, bits: int = 64, *, out: npt.NDArray[np.unsignedinteger] | None = None
    ) -> npt.NDArray[np.unsignedinteger]:
        """This party's share of `count` zeros in Z_2^bits (bits 32 or 64).

        `out`, if given, is a C-contiguous array of `count` elements of the ring's dtype that is
        overwritten and returned (reusing buffers avoids page faults on large draws).
        """
        out = _output(out, count, bits)
        if self._sign > 0:
            self._single.fill(out)
        elif self._sign < 0:
            self._single.fill_negated(out)
        else:
            self._next.fill_difference(out, self._prev)
        return out

    def zero_share_field(self, count: int, modulus: int) -> npt.NDArray[np.uint64]:
        """This party's share of `count` zeros in Z_p (2 <= p < 2^63)."""
        p = np.uint64(modulus)
        if self._sign:
            values = self._single.field(count, modulus)
            if self._sign < 0:
                values = (p - values) % p
            return values
        a = self._next.field(count, modulus)
        b = self._prev.field(count, modulus)
        # a, b < p < 2^63, so a + p - b < 2^64 never wraps.
        return (a + (p - b)) % p


class ReplicatedSeeds:
    """Replicated 2-out-of-3 sharing of random values (ABY3 section 2.2, Falcon).

    Key k_j is shared by parties j and j-1 (mod 3), so party i holds (k_i, k_{i+1}). A random
    draw gives party i the pair (r_i, r_{i+1}) with r_j = F(k_j): consecutive parties agree on
    one component, and r = r_0 + r_1 + r_2 is known to nobody alone. `zero_share` gives the
    3-out-of-3 zero sharing alpha_i = r_i - r_{i+1}.
    """

    def __init__(
        self, party: str, parties: Sequence[str], seeds: Mapping[str, bytes], purpose: str
    ) -> None:
        """`seeds` maps the previous and next party's ids to this party's pair seeds with them."""
        if len(parties) != 3:
            raise ConfigurationError("replicated sharing here is for exactly three parties")
        i = _index(parties, party)
        prv, nxt = parties[(i - 1) % 3], parties[(i + 1) % 3]
        if prv not in seeds or nxt not in seeds:
            raise ConfigurationError("need the pair seeds with both other parties")
        self._purpose = purpose
        # k_i is the seed of pair {i, i-1}; k_{i+1} the seed of pair {i+1, i}.
        self._own = Prg(seeds[prv], "replicated", purpose, i)
        self._next = Prg(seeds[nxt], "replicated", purpose, (i + 1) % 3)

    def __repr__(self) -> str:
        return f"ReplicatedSeeds(purpose={self._purpose!r})"

    def random_pair(
        self,
        count: int,
        bits: int = 64,
        *,
        out: tuple[npt.NDArray[np.unsignedinteger], npt.NDArray[np.unsignedinteger]] | None = None,
    ) -> tuple[npt.NDArray[np.unsignedinteger], npt.NDArray[np.unsignedinteger]]:
        """This party's replicated shares (r_i, r_{i+1}) of `count` random ring elements.

        `out`, if given, is a pair of arrays to overwrite (as `Przs.zero_share`).
        """
        first = _output(None if out is None else out[0], count, bits)
        second = _output(None if out is None else out[1], count, bits)
        self._own.fill(first)
        self._next.fill(second)
        return first, second

    def zero_share(
        self, count: int, bits: int = 64, *, out: npt.NDArray[np.unsignedinteger] | None = None
    ) -> npt.NDArray[np.unsignedinteger]:
        """This party's alpha_i = r_i - r_{i+1} of a 3-out-of-3 sharing of zeros."""
        out = _output(out, count, bits)
        self._own.fill_difference(out, self._next)
        return out


class Prss:
    """Pseudo-random secret sharing (Cramer-Damgard-Ishai) over Z_p, as in MPyC.

    For n parties and threshold t, every subset A of n - t parties shares a key k_A. Party i
    (evaluation point x = i + 1, as MPyC) gets the Shamir share sum over A containing i of
    r_A * f_A(x), where f_A has degree t, f_A(0) = 1 and f_A(j + 1) = 0 for every j outside A.
    The shared secret is sum_A r_A. The modulus is below 2^32 so products fit in uint64.
    """

    def __init__(
        self,
        party_index: int,
        n: int,
        threshold: int,
        subset_seeds: Mapping[tuple[int, ...], bytes],
        purpose: str,
    ) -> None:
        if not 0 <= threshold < n or not 0 <= party_index < n:
            raise ConfigurationError("need 0 <= threshold < n and 0 <= party_index < n")
        self._i = party_index
        self._n = n
        self._purpose = purpose
        self._streams: dict[tuple[int, ...], Prg] = {}
        for subset in itertools.combinations(range(n), n - threshold):
            if party_index in subset:
                if subset not in subset_seeds:
                    raise ConfigurationError(f"missing the seed of subset {subset}")
                self._streams[subset] = Prg(subset_seeds[subset], "prss", purpose, *subset)

    def __repr__(self) -> str:
        return f"Prss(purpose={self._purpose!r}, subsets={len(self._streams)})"

    @property
    def subsets(self) -> tuple[tuple[int, ...], ...]:
        """The subsets this party holds a key for."""
        return tuple(self._streams)

    def share(self, count: int, modulus: int) -> npt.NDArray[np.uint64]:
        """This party's Shamir shares of `count` pseudo-random elements of Z_p (p < 2^32)."""
        if not 2 <= modulus < 1 << 32:
            raise ConfigurationError("PRSS modulus must be in [2, 2^32)")
        p = np.uint64(modulus)
        x = self._i + 1
        out = np.zeros(count, dtype=np.uint64)
        for subset, prg in self._streams.items():
            coefficient = 1
            for j in range(self._n):
                if j not in subset:
                    # f_A(x) = prod over j outside A of (j + 1 - x) / (j + 1)  (mod p)
                    coefficient = coefficient * (j + 1 - x) * pow(j + 1, -1, modulus) % modulus
            r = prg.field(count, modulus)
            out = (out + r * np.uint64(coefficient)) % p
        return out


class CommonCoins:
    """Random values every party of a group draws identically (from the group seed)."""

    def __init__(self, group_seed: bytes, purpose: str) -> None:
        self._purpose = purpose
        self._prg = Prg(group_seed, "coins", purpose)

    def __repr__(self) -> str:
        return f"CommonCoins(purpose={self._purpose!r})"

    def ring(self, count: int, bits: int = 64) -> npt.NDArray[np.unsignedinteger]:
        """`count` common uniform elements of Z_2^bits."""
        return self._prg.ring(count, bits)

    def field(self, count: int, modulus: int) -> npt.NDArray[np.uint64]:
        """`count` common uniform elements of Z_p."""
        return self._prg.field(count, modulus)

    def bits(self, count: int) -> npt.NDArray[np.bool_]:
        """`count` common fair coin flips."""
        raw = self._prg.random_bytes((count + 7) // 8)
        return np.unpackbits(np.frombuffer(raw, dtype=np.uint8))[:count].astype(np.bool_)
