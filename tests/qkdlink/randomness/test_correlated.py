"""PRZS sums to zero, replicated pairs agree, PRSS reconstructs, coins are common."""

import itertools
import secrets

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qkdlink.errors import ConfigurationError
from qkdlink.randomness import CommonCoins, Prg, Prss, Przs, ReplicatedSeeds


def pair_seeds(parties: list[str]) -> dict[frozenset[str], bytes]:
    return {frozenset(p): secrets.token_bytes(32) for p in itertools.combinations(parties, 2)}


def seeds_of(
    party: str, parties: list[str], seeds: dict[frozenset[str], bytes]
) -> dict[str, bytes]:
    return {q: seeds[frozenset((party, q))] for q in parties if q != party}


@given(st.integers(2, 7), st.integers(0, 5000), st.sampled_from([32, 64]))
@settings(max_examples=30, deadline=None)
def test_przs_shares_sum_to_zero(n: int, count: int, bits: int) -> None:
    parties = [f"p{i}" for i in range(n)]
    seeds = pair_seeds(parties)
    gens = [Przs(p, parties, seeds_of(p, parties, seeds), "t") for p in parties]
    for _ in range(2):  # successive draws stay in step
        shares = [g.zero_share(count, bits) for g in gens]
        total = np.zeros(count, dtype=shares[0].dtype)
        for s in shares:
            total += s
        assert not total.any()
        if count >= 4:
            assert shares[0].any()  # a share is not itself zero


@pytest.mark.parametrize("n", [2, 3, 5])
def test_przs_field_sums_to_zero(n: int) -> None:
    p = 2**61 - 1
    parties = [f"p{i}" for i in range(n)]
    seeds = pair_seeds(parties)
    shares = [
        Przs(q, parties, seeds_of(q, parties, seeds), "f").zero_share_field(999, p) for q in parties
    ]
    total = [sum(int(s[k]) for s in shares) % p for k in range(999)]
    assert total == [0] * 999
    assert all(int(s.max()) < p for s in shares)


@pytest.mark.parametrize("bits", [32, 64])
def test_przs_share_is_next_stream_minus_previous_stream(bits: int) -> None:
    # CrypTen's PRZS written out with plain streams: party i's share is
    # G(s_{i,i+1}) - G(s_{i-1,i}) under the pair labels, over several tiles and a partial tile.
    parties = ["a", "b", "c", "d"]
    seeds = pair_seeds(parties)
    count = 3 * (1 << 16) + 5
    share = Przs("b", parties, seeds_of("b", parties, seeds), "pin").zero_share(count, bits)
    nxt = Prg(seeds[frozenset("bc")], "przs", "pin", "b", "c").ring(count, bits)
    prv = Prg(seeds[frozenset("ab")], "przs", "pin", "a", "b").ring(count, bits)
    assert share.tolist() == (nxt - prv).tolist()


def test_przs_two_parties_share_one_stream_with_opposite_signs() -> None:
    seed = secrets.token_bytes(32)
    count = 70001  # two whole tiles and a partial one
    a = Przs("a", ["a", "b"], {"b": seed}, "two").zero_share(count)
    b = Przs("b", ["a", "b"], {"a": seed}, "two").zero_share(count)
    assert a.tolist() == Prg(seed, "przs", "two", "a", "b").uint64(count).tolist()
    assert not (a + b).any()


def test_przs_needs_neighbour_seeds() -> None:
    with pytest.raises(ConfigurationError):
        Przs("a", ["a", "b", "c"], {"b": bytes(32)}, "t")
    with pytest.raises(ConfigurationError):
        Przs("z", ["a", "b"], {"a": bytes(32)}, "t")


def test_przs_purposes_give_unrelated_streams() -> None:
    parties = ["a", "b", "c"]
    seeds = pair_seeds(parties)
    one = Przs("a", parties, seeds_of("a", parties, seeds), "one").zero_share(1000)
    two = Przs("a", parties, seeds_of("a", parties, seeds), "two").zero_share(1000)
    assert not np.intersect1d(one, two).size


def test_replicated_pairs_agree_and_zero_shares_sum_to_zero() -> None:
    parties = ["h0", "h1", "h2"]
    seeds = pair_seeds(parties)
    gens = [ReplicatedSeeds(p, parties, seeds_of(p, parties, seeds), "rep") for p in parties]
    pairs = [g.random_pair(777) for g in gens]
    for i in range(3):
        # party i's second component is party i+1's first: r_{i+1}
        assert np.array_equal(pairs[i][1], pairs[(i + 1) % 3][0])
    # the three distinct components are unrelated
    assert not np.array_equal(pairs[0][0], pairs[1][0])
    zeros = [g.zero_share(500, 32) for g in gens]
    assert not (zeros[0] + zeros[1] + zeros[2]).any()


def test_replicated_is_for_three_parties() -> None:
    with pytest.raises(ConfigurationError):
        ReplicatedSeeds("a", ["a", "b"], {"b": bytes(32)}, "r")


def lagrange_at_zero(points: dict[int, int], p: int) -> int:
    total = 0
    for xi, yi in points.items():
        num, den = 1, 1
        for xj in points:
            if xj != xi:
                num = num * (-xj) % p
                den = den * (xi - xj) % p
        total = (total + yi * num * pow(den, -1, p)) % p
    return total


@pytest.mark.parametrize(("n", "t"), [(3, 1), (4, 1), (5, 2)])
def test_prss_shares_reconstruct_the_sum_of_subset_values(n: int, t: int) -> None:
    p = 2**31 - 1
    subset_seeds = {s: secrets.token_bytes(32) for s in itertools.combinations(range(n), n - t)}
    gens = [
        Prss(i, n, t, {s: k for s, k in subset_seeds.items() if i in s}, "prss") for i in range(n)
    ]
    shares = [g.share(50, p) for g in gens]
    expected = [0] * 50
    for s, k in subset_seeds.items():
        r = Prg(k, "prss", "prss", *s).field(50, p)
        expected = [(e + int(v)) % p for e, v in zip(expected, r, strict=True)]
    for subset in itertools.combinations(range(n), t + 1):  # any t + 1 parties reconstruct
        got = [lagrange_at_zero({i + 1: int(shares[i][k]) for i in subset}, p) for k in range(50)]
        assert got == expected


def test_prss_missing_subset_seed() -> None:
    with pytest.raises(ConfigurationError):
        Prss(0, 3, 1, {}, "x")


def test_common_coins_are_common() -> None:
    seed = secrets.token_bytes(32)
    a, b = CommonCoins(seed, "c"), CommonCoins(seed, "c")
    assert np.array_equal(a.ring(100), b.ring(100))
    assert np.array_equal(a.bits(33), b.bits(33))
    assert np.array_equal(a.field(10, 97), b.field(10, 97))
    assert a.bits(33).dtype == np.bool_
    assert not np.array_equal(CommonCoins(seed, "d").ring(100), CommonCoins(seed, "c").ring(100))


def test_out_buffers_are_filled_and_checked() -> None:
    parties = ["a", "b", "c"]
    seeds = pair_seeds(parties)
    gens = [Przs(p, parties, seeds_of(p, parties, seeds), "o") for p in parties]
    bufs = [np.full(70000, 7, dtype=np.uint64) for _ in parties]
    shares = [g.zero_share(70000, out=b) for g, b in zip(gens, bufs, strict=True)]
    assert all(s is b for s, b in zip(shares, bufs, strict=True))
    assert not (bufs[0] + bufs[1] + bufs[2]).any()
    with pytest.raises(ConfigurationError):
        gens[0].zero_share(10, out=np.zeros(10, dtype=np.uint32))
    rep = ReplicatedSeeds("a", parties, seeds_of("a", parties, seeds), "o")
    with pytest.raises(ConfigurationError):
        rep.random_pair(10, out=(np.zeros(10, dtype=np.uint64), np.zeros(9, dtype=np.uint64)))
