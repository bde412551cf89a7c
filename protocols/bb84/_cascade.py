"""Cascade error correction, vectorised: Alice's parity oracle and Bob's batched binary searches.

Brassard & Salvail, "Secret-key reconciliation by public discussion", EUROCRYPT '93 (`cascade`:
k1 = ceil(0.73/Q), k_i = 2 k_{i-1}, four passes) and Martinez-Mateo, Pacher, Peev, Ciurana,
Martin, "Demystifying the information reconciliation protocol Cascade", QIC 15 (2015)
(`cascade-opt`, their option (8): α = log2(1/Q) - 1/2, k1 = 2^ceil(α), k2 = 2^ceil((α+12)/2),
k3 = 4096, k_i = n/2 for i >= 4, 14 passes, with reuse of every sub-block parity already
disclosed).

Layout. Pass j reorders the key (pass 1 keeps the order; passes 2, 3 use a public random
permutation; passes whose blocks are >= n/2 split the key into two halves by a public random
mask) and cuts it into blocks. Each block is padded with virtual zero bits to K = 2^depth and
searched as a complete binary tree: node h (1 = the block, children 2h, 2h+1) covers a dyadic
range, so a node id is `block * 2K + h`. Virtual bits have known parity 0 and cost nothing.

Batching. Bob keeps every open binary search as a row of numpy arrays, one row per search, and
advances all of them one level per round trip: one `ParityQuery` carries every left-child parity
he still needs (parities he can infer from known ones are not asked again). Flips are applied
after the whole level; a search whose range then holds an even number of errors is dropped and
the block is re-examined from its (updated) top parity, which is how Cascade's backtracking into
earlier passes happens here. New searches open when the current wave has finished. All passes
share one global numbering of blocks and tree nodes (`_Index`), so each step is a fixed number
of numpy calls whatever the number of passes and frames with open searches. Parities come from
the key packed into bytes in pass order and the XOR prefix of the byte parities (`_Parities`:
any range in O(1)); Alice's key never changes, and Bob adds the parity of the bits he flipped
since the pass started, kept in a heap-ordered tree updated along the path of each flipped bit.
Passes of random halves never materialise their order: a half is the key's bits where the public
mask says so, so its parities come from the key masked to that half, in key order, and positions
from rank and select on the packed mask (`_Halves`). All top-level block parities are public in
every Cascade run; Alice sends them for all passes at once, which saves one round trip per pass
and leaks nothing extra; pass 1 reveals each frame's parity, so the last block of each frame in
later passes is inferred, not sent.

Frames. A long key is cut into frames (`split_frames`) that keep their own schedule and
permutations and are reconciled side by side: blocks never straddle frames, and one batch of
queries serves every frame, so a long key costs about the round trips of one frame.

Leakage λ_EC = the number of parity bits Alice discloses (top-level and queried). With honest
parities every located bit is a real error; a bit located twice means inconsistent (forged or
corrupted) parities and ends the run, which also bounds its length.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from protocols.bb84._config import Reconciliation
from protocols.errors import LocalProtocolError

__all__ = [
    "CascadeAlice",
    "CascadeBob",
    "CascadeQueryError",
    "PassLayout",
    "block_sizes",
    "build_layouts",
    "build_pass",
    "disclosed_top_parities",
    "split_frames",
]

_MIN_QBER = 1e-4
_I64 = np.int64
_IDX = np.int32  # key-length index arrays: half the memory traffic of int64 (n < 2^28)


class CascadeQueryError(Exception):
    """Internal: a parity query names a pass or node that does not exist, or the parities
    received are inconsistent (honest parities never locate the same bit twice)."""


def block_sizes(n: int, qber: float, variant: Reconciliation) -> list[int]:
    """Top-level block size of each pass for a key of n bits at error rate qber."""
    q = min(max(qber, _MIN_QBER), 0.5)
    half = max(1, (n + 1) // 2)
    if variant == "cascade":
        k1 = math.ceil(0.73 / q)
        sizes = [k1 << i for i in range(4)]
    else:
        alpha = math.log2(1.0 / q) - 0.5
        sizes = [2 ** math.ceil(alpha), 2 ** math.ceil((alpha + 12.0) / 2.0), 4096]
        sizes += [half] * 11
    return [max(1, min(k, n if i == 0 else half)) for i, k in enumerate(sizes)]


@dataclass(frozen=True, slots=True, eq=False)
class PassLayout:
    """How one pass orders and cuts the key (public, derived from the shared seed)."""

    order: NDArray[np.int32] | None
    """Key positions in pass order (None: the identity, or a pass of random halves, whose
    order is the stable partition of the key by `halves` and is never materialised)."""
    starts: NDArray[np.int64]
    """Offset of each block in pass order."""
    sizes: NDArray[np.int64]
    """Real bits in each block (> 0)."""
    depth: int
    """log2 of the padded block size K."""
    frame_blocks: tuple[int, ...]
    """Blocks of each frame, in order (frames are reconciled side by side, never mixed)."""
    halves: NDArray[np.uint8] | None = None
    """Passes that cut every frame into two random halves: the public mask in key order,
    packed (`np.packbits` order; a 1 puts the key bit in the second half of its frame)."""

    @property
    def blocks(self) -> int:
        return int(self.starts.shape[0])

    @property
    def padded(self) -> int:
        return 1 << self.depth

    def gather(self, bits: NDArray[np.uint8]) -> NDArray[np.uint8]:
        """The key in pass order."""
        order = self.pass_order()
        return bits if order is None else np.take(bits, order)

    def pass_order(self) -> NDArray[np.int32] | None:
        """Key positions in pass order (None: the identity); built on demand for halves."""
        if self.halves is None:
            return self.order
        n = int(self.sizes.sum())
        mask = np.unpackbits(self.halves, count=n).view(bool)
        out = np.empty(n, dtype=_IDX)
        first = np.cumsum(self.frame_blocks) - np.asarray(self.frame_blocks)
        bounds = [*self.starts[first].tolist(), n]
        for lo, hi in itertools.pairwise(bounds):
            half = mask[lo:hi]
            zeros = np.flatnonzero(~half)
            out[lo : lo + zeros.shape[0]] = zeros
            out[lo + zeros.shape[0] : hi] = np.flatnonzero(half)
            out[lo:hi] += lo
        return out

    def virtual_index(self) -> NDArray[np.int32]:
        """For each position in pass order: block * K + offset in the block (padded layout)."""
        shift = np.arange(self.blocks, dtype=_I64) * self.padded - self.starts
        n = int(self.sizes.sum())
        # Repeat per run of equal shifts (full power-of-two blocks share one), not per block.
        change = np.flatnonzero(np.diff(shift)) + 1
        first = np.concatenate(([0], change))
        ends = np.concatenate((self.starts[change], [n]))
        out = np.repeat(shift[first].astype(_IDX), ends - self.starts[first])
        out += np.arange(n, dtype=_IDX)
        return out


def _pass_rng(seed: bytes, index: int, frame: int) -> np.random.Generator:
    return np.random.default_rng([int.from_bytes(seed, "big"), index, frame])


def build_pass(n: int, k: int, seed: bytes, index: int, frame: int = 0) -> PassLayout:
    """The layout of pass `index` (0-based) with block size k over one frame of n bits."""
    return _frames_pass([n], [k], seed, index, first_frame=frame)


def _frames_pass(
    frame_sizes: list[int], ks: list[int], seed: bytes, index: int, *, first_frame: int = 0
) -> PassLayout:
    """Pass `index` over consecutive frames (block size ks[f] in frame f), each frame with its
    own public randomness; orders are written in place into one array for the whole key."""
    total = sum(frame_sizes)
    kinds = [
        "identity" if index == 0 or n < 2 else "halves" if 2 * k >= n else "permutation"
        for n, k in zip(frame_sizes, ks, strict=True)
    ]
    halves = all(kind == "halves" for kind in kinds)
    order: NDArray[np.int32] | None = None
    if not halves and any(kind != "identity" for kind in kinds):
        order = np.empty(total, dtype=_IDX)
    # Passes of halves only: the packed mask of the whole key, each frame's random bytes
    # shifted to its bit offset (one spare byte for the shift's carry).
    packed = np.zeros((total + 7) // 8 + 1, dtype=np.uint8) if halves else None
    starts: list[NDArray[np.int64]] = []
    sizes: list[NDArray[np.int64]] = []
    frame_blocks: list[int] = []
    depth = 0
    offset = 0
    for frame, (n, k, kind) in enumerate(zip(frame_sizes, ks, kinds, strict=True)):
        chunk = order[offset : offset + n] if order is not None else None
        if kind == "halves":
            # Two random halves: a public random mask, stably partitioned (cheaper than a
            # shuffle).
            rng = _pass_rng(seed, index, first_frame + frame)
            raw = np.frombuffer(bytearray(rng.bytes((n + 7) // 8)), dtype=np.uint8)
            if n % 8:
                raw[-1] &= (0xFF << (8 - n % 8)) & 0xFF  # bits past the frame are not drawn
            n0 = n - int(np.bitwise_count(raw).sum())
            if packed is not None:
                _or_at_bit(packed, raw, offset)
            if chunk is not None:
                half = np.unpackbits(raw, count=n).view(bool)
                chunk[:n0] = np.flatnonzero(~half)
                chunk[n0:] = np.flatnonzero(half)
                chunk += offset
            block_sizes_f = np.array([s for s in (n0, n - n0) if s], dtype=_I64)
            block_starts = np.concatenate(([0], np.cumsum(block_sizes_f)[:-1])).astype(_I64)
            frame_depth = max(0, int(block_sizes_f.max() - 1).bit_length())
        else:
            if chunk is not None:
                if kind == "permutation":
                    chunk[:] = _pass_rng(seed, index, first_frame + frame).permutation(n)
                    chunk += offset
                else:
                    chunk[:] = np.arange(offset, offset + n, dtype=_IDX)
            k = max(1, min(k, n))
            block_starts = np.arange(0, n, k, dtype=_I64)
            block_sizes_f = np.minimum(k, n - block_starts)
            frame_depth = max(0, (k - 1).bit_length())
        starts.append(block_starts + offset)
        sizes.append(block_sizes_f)
        frame_blocks.append(int(block_sizes_f.shape[0]))
        depth = max(depth, frame_depth)
        offset += n
    return PassLayout(
        order,
        np.concatenate(starts),
        np.concatenate(sizes),
        depth,
        tuple(frame_blocks),
        None if packed is None else packed[: (total + 7) // 8],
    )


def _or_at_bit(packed: NDArray[np.uint8], raw: NDArray[np.uint8], bit: int) -> None:
    """OR the packed bits `raw` (MSB first, zero padding) into `packed` from bit `bit` on."""
    byte, shift = divmod(bit, 8)
    if not shift:
        packed[byte : byte + raw.shape[0]] |= raw
        return
    packed[byte : byte + raw.shape[0]] |= raw >> shift
    packed[byte + 1 : byte + 1 + raw.shape[0]] |= raw << (8 - shift)  # uint8: high bits drop


def split_frames(n: int, frame_bits: int) -> list[int]:
    """Cut n key bits into the fewest frames of at most `frame_bits`, sizes within one bit."""
    count = max(1, -(-n // max(1, frame_bits)))
    base, extra = divmod(n, count)
    return [base + 1] * extra + [base] * (count - extra)


def build_layouts(
    frame_sizes: list[int], qber: float, variant: Reconciliation, seed: bytes
) -> list[PassLayout]:
    """Every pass over consecutive frames, each frame with its own schedule and permutations.

    Frames are reconciled side by side: one binary-search batch and one round trip serve all
    of them, so a long key costs the round trips of one frame, not of one huge frame.
    """
    schedules = [block_sizes(size, qber, variant) for size in frame_sizes]
    return [
        _frames_pass(frame_sizes, [schedule[index] for schedule in schedules], seed, index)
        for index in range(len(schedules[0]))
    ]


def disclosed_top_parities(layouts: list[PassLayout]) -> int:
    """How many top-level parities Alice sends: all of pass 1, in later passes all but the
    last block of each frame."""
    return layouts[0].blocks + sum(
        layout.blocks - len(layout.frame_blocks) for layout in layouts[1:]
    )


class _Index:
    """Every block and tree node of every pass numbered globally, so that one numpy call per
    step serves all passes and all frames at once.

    Global block `gb` = first block of its pass + block. Node h of a block (1 = the block,
    children 2h, 2h+1) has the global id `base[gb] + h`; each pass's nodes start at a multiple
    of its 2K, so the block of a node id v is `v & ~(2K - 1)` and h is `v & (2K - 1)`.
    """

    __slots__ = (
        "base",
        "first_block",
        "local",
        "nodes",
        "pass_blocks",
        "pass_depth",
        "pass_of",
        "pass_table",
        "pass_width",
        "size",
        "start",
    )

    def __init__(self, layouts: list[PassLayout]) -> None:
        counts = np.array([layout.blocks for layout in layouts], dtype=_I64)
        self.pass_blocks = counts
        self.first_block = np.concatenate(([0], np.cumsum(counts)[:-1])).astype(_I64)
        self.pass_depth = np.array([layout.depth for layout in layouts], dtype=_I64)
        self.pass_width = np.left_shift(1, self.pass_depth)
        node_first = []
        total = 0
        for layout in layouts:
            span = 2 * layout.padded
            total = -(-total // span) * span
            node_first.append(total)
            total += layout.blocks * span
        self.nodes = total
        """Size of the global node space (ids 0 .. nodes - 1; id 0 of each block is unused)."""
        self.local = np.concatenate(
            [np.arange(layout.blocks, dtype=_I64) * (2 * layout.padded) for layout in layouts]
        )
        """Per global block: its node offset inside its pass (block * 2K, as sent on the wire)."""
        self.base = self.local + np.repeat(np.array(node_first, dtype=_I64), counts)
        """Per global block: global id of its node 0."""
        self.size = np.concatenate([layout.sizes for layout in layouts])
        """Per global block: its real bits."""
        self.start = np.concatenate([layout.starts for layout in layouts])
        """Per global block: its offset in its pass order."""
        self.pass_of = np.repeat(np.arange(len(layouts), dtype=np.uint8), counts)
        """Per global block: its pass."""
        self.pass_table = np.stack(
            (self.pass_depth + 1, counts, self.pass_width, self.first_block)
        ).astype(_I64)
        """Per pass, by rows: depth + 1 (log2 of a block's node span), blocks, K, first global
        block (one gather serves all four)."""

    def block_end(self, passes: int) -> int:
        """Global blocks of the first `passes` passes."""
        return int(self.pass_blocks[:passes].sum())

    def frame_lasts(self, layouts: list[PassLayout]) -> NDArray[np.int64]:
        """Global block of the last block of each frame, in passes 2 and later."""
        lasts = [
            first + np.cumsum(np.asarray(layout.frame_blocks, dtype=_I64)) - 1
            for first, layout in zip(self.first_block[1:], layouts[1:], strict=True)
        ]
        return np.concatenate(lasts) if lasts else np.zeros(0, dtype=_I64)


def _head_parity_table() -> NDArray[np.uint8]:
    """Entry (r << 9) | (q << 8) | b: q ^ the parity of the top r bits of byte b (packbits order,
    MSB first), for a prefix parity q of the bytes before b."""
    table = [
        q ^ (bin(b >> (8 - r)).count("1") & 1)
        for r in range(8)
        for q in range(2)
        for b in range(256)
    ]
    return np.array(table, dtype=np.uint8)


_HEAD_PARITY = _head_parity_table()


def _head_count_table() -> NDArray[np.int64]:
    """Entry (r << 8) | b: number of ones among the top r bits of byte b (MSB first)."""
    return np.array([bin(b >> (8 - r)).count("1") for r in range(8) for b in range(256)], _I64)


def _select_table() -> NDArray[np.int64]:
    """Entry (k << 8) | b: position (MSB first) of the k-th set bit of byte b (8: none)."""
    table = []
    for k in range(8):
        for b in range(256):
            ones = [i for i in range(8) if b >> (7 - i) & 1]
            table.append(ones[k] if k < len(ones) else 8)
    return np.array(table, dtype=_I64)


_HEAD_COUNT = _head_count_table()
_SELECT = _select_table()


class _Halves:
    """Rank and select on the public masks of every pass of random halves, so that those
    passes need no order array: a half of a frame is, in order, the key bits of that frame
    where the mask says so. Masks are packed into rows of whole 64-bit words; counts of zeros
    (before each word) and of ones (shifted past all zeros) form one non-decreasing array, so
    one `searchsorted` finds the word in either half, and byte counts finish the job."""

    __slots__ = (
        "_counts",
        "_first_rank",
        "_frame_end",
        "_frame_gb",
        "_packed",
        "_pass_row",
        "_pass_width",
        "_row",
        "_words",
        "_zeros_total",
        "member",
        "passes",
        "second",
    )

    def __init__(self, layouts: list[PassLayout], index: _Index, n: int) -> None:
        masks = [
            (p, layout.halves) for p, layout in enumerate(layouts) if layout.halves is not None
        ]
        self.passes = [p for p, _ in masks]
        rows = len(masks)
        width = -(-(n + 8) // 64) * 8  # bytes per row: whole words, one spare byte at least
        self._packed = np.zeros(rows * width, dtype=np.uint8)
        for q, (_, mask) in enumerate(masks):
            self._packed[q * width : q * width + mask.shape[0]] = mask
        self._words = self._packed.view("<u8")
        # Counts fit int32 while the masks hold < 2^31 bits.
        count_type = np.int32 if 8 * rows * width < 1 << 31 else np.int64
        size = self._words.shape[0] + 1
        self._counts: NDArray[np.signedinteger[Any]] = np.empty(2 * size, dtype=count_type)
        ones = self._counts[size:]
        ones[0] = 0
        np.cumsum(np.bitwise_count(self._words), dtype=count_type, out=ones[1:])
        np.subtract(np.arange(0, 64 * size, 64, dtype=count_type), ones, out=self._counts[:size])
        self._zeros_total = int(self._counts[size - 1])
        np.add(ones, self._zeros_total, out=ones)
        blocks = int(index.size.shape[0])
        self.member = np.zeros(blocks, dtype=bool)
        """Per global block: it belongs to a pass of random halves."""
        self.second = np.zeros(blocks, dtype=_I64)
        """Per halves block: 1 if it holds the bits of its frame whose mask bit is 1."""
        self._row = np.zeros(blocks, dtype=_I64)
        self._first_rank = np.zeros(blocks, dtype=_I64)
        self._frame_end = np.zeros(blocks, dtype=_I64)
        frame_gbs: list[NDArray[np.int64]] = []
        for q, (p, mask) in enumerate(masks):
            layout = layouts[p]
            counts = np.asarray(layout.frame_blocks, dtype=_I64)
            first = np.cumsum(counts) - counts
            frame_start = layout.starts[first]
            frame_of = np.repeat(np.arange(counts.shape[0]), counts)
            place = np.arange(layout.blocks, dtype=_I64) - first[frame_of]
            # A frame with one block is all zeros or all ones (its mask at its start says).
            at = frame_start[frame_of]
            start_bit = (mask[at >> 3] >> (7 - (at & 7)).astype(np.uint8)) & 1
            second = np.where(counts[frame_of] == 1, start_bit, place)
            gb = index.first_block[p] + np.arange(layout.blocks, dtype=_I64)
            row = q * width * 8
            start_rank = self._rank(row + frame_start[frame_of], second)
            self.member[gb] = True
            self.second[gb] = second
            self._row[gb] = row
            self._first_rank[gb] = start_rank
            self._frame_end[gb] = (frame_start + np.add.reduceat(layout.sizes, first))[frame_of]
            # Block of each frame's zeros (row 0) and ones (row 1): one block serves both.
            frame_gbs.append(np.stack((gb[first], gb[first] + (counts == 2))))
        # Per halves pass (in `passes` order): each frame's block of zeros and of ones, the
        # bit coordinate of its row, its padded block size.
        self._frame_gb = np.stack(frame_gbs) if frame_gbs else np.zeros((0, 2, 0), dtype=_I64)
        self._pass_row = np.arange(rows, dtype=_I64)[:, None] * width * 8
        self._pass_width = index.pass_width[self.passes][:, None]

    def _rank(self, at: NDArray[np.int64], second: NDArray[np.int64]) -> NDArray[np.int64]:
        """Position in `_counts` of bit coordinate `at` among the zeros (second = 0) or ones."""
        word = at >> 6
        byte = at >> 3
        # Whole bytes before `at` in its word are its low-order bytes (little-endian lanes).
        low = (np.uint64(1) << ((byte & 7) << 3).astype(np.uint64)) - np.uint64(1)
        ones = (
            self._counts[self._words.shape[0] + 1 + word].astype(_I64)
            + np.bitwise_count(self._words[word] & low)
            + _HEAD_COUNT[((at & 7) << 8) | self._packed[byte]]
        )
        # `ones` already carries the shift past all zeros that the ones' part of `_counts` has.
        rank: NDArray[np.int64] = np.where(second, ones, at - ones + self._zeros_total)
        return rank

    def select(self, gb: NDArray[np.int64], r: NDArray[np.int64]) -> NDArray[np.int64]:
        """Key position of bit r (< size) of each halves block gb."""
        target = self._first_rank[gb] + r
        # Targets in the counts' own type: a mixed-type search would convert the whole array.
        j = np.searchsorted(self._counts, target.astype(self._counts.dtype), side="right") - 1
        size = self._words.shape[0] + 1
        second = j >= size
        word = j - second * size
        rank = target - self._counts[j].astype(_I64)  # among the word's zeros or ones, < 64
        # The word's bytes (ones, or zeros as ones), their running counts, the byte holding
        # the bit, and the bit in that byte.
        line = np.arange(word.shape[0])
        octets = self._packed.reshape(-1, 8)[word] ^ np.where(second, 0, 0xFF)[:, None]
        running = np.cumsum(np.bitwise_count(octets), axis=1, dtype=_I64)
        place = np.count_nonzero(running <= rank[:, None], axis=1)
        before = np.where(place > 0, running[line, np.maximum(place - 1, 0)], 0)
        bit = _SELECT[((rank - before) << 8) | octets[line, place]]
        key: NDArray[np.int64] = 64 * word + 8 * place + bit - self._row[gb]
        return key

    def coordinates(
        self, gb: NDArray[np.int64], r: NDArray[np.int64], size: NDArray[np.int64]
    ) -> NDArray[np.int64]:
        """Key position where bit r (<= size) of each halves block starts (its frame's end
        for r = size): a half's range [lo, hi) is the key range between the two."""
        inside = r < size
        key = self.select(gb, np.where(inside, r, 0))
        out: NDArray[np.int64] = np.where(inside, key, self._frame_end[gb])
        return out

    def leaves(
        self, count: int, x: NDArray[np.int64], frame: NDArray[np.int64], index: _Index
    ) -> NDArray[np.int64]:
        """Global leaf ids of key positions x (in frames `frame`) in the first `count` halves
        passes, one row per pass."""
        at = self._pass_row[:count] + x
        second = (self._packed[at >> 3] >> (7 - (at & 7)).astype(np.uint8)) & 1
        gb = self._frame_gb[np.arange(count)[:, None], second, frame]
        offset = self._rank(at, second) - self._first_rank[gb]
        leaf: NDArray[np.int64] = index.base[gb] + self._pass_width[:count] + offset
        return leaf


_LANES = np.uint64(0x0101010101010101)
_SORTED_TOGGLE = 1 << 14


def _toggle(flags: NDArray[np.uint8], at: NDArray[np.int64]) -> None:
    """flags[i] ^= 1 once per occurrence of i in `at` (repeats cancel in pairs)."""
    if at.shape[0] < _SORTED_TOGGLE:
        np.bitwise_xor.at(flags, at, np.uint8(1))
        return
    # Many scattered indices: sorting first and toggling each index with an odd count once
    # is several times faster than ufunc.at's unordered read-modify-writes.
    ordered = np.sort(at)
    first = np.flatnonzero(np.diff(ordered, prepend=-1))
    runs = np.diff(first, append=ordered.shape[0])
    flags[ordered[first[(runs & 1) == 1]]] ^= 1


def _prefix_parity(chunk: NDArray[np.uint8]) -> NDArray[np.uint8]:
    """Entry j (0 <= j <= len): parity of bytes 0 .. j-1 of `chunk`.

    Eight byte parities at a time, as the byte lanes of a little-endian uint64: multiplying by
    0x0101010101010101 leaves in every lane the sum of the lanes at and below it (at most 8,
    no carry between lanes), so only one value per 8 bytes needs a sequential scan.
    """
    size = int(chunk.shape[0])
    lanes = np.zeros(-(-(size + 1) // 8) * 8, dtype=np.uint8)
    lanes[:size] = np.bitwise_count(chunk) & 1
    words = lanes.view("<u8")
    inclusive = (words * _LANES) & _LANES
    total = inclusive >> np.uint64(56)
    before = np.bitwise_xor.accumulate(total) ^ total
    exclusive: NDArray[np.uint64] = inclusive ^ words ^ (before * _LANES)
    return exclusive.view(np.uint8)[: size + 1]


class _Parities:
    """Parity of any range of each pass order of a fixed key in O(1), cheap to build (no
    per-bit scan): the key packed into bytes in pass order, each byte stored beside the parity
    of all bytes before it (`(prefix << 8) | byte`, one gather per look-up). A pass of random
    halves keeps the key in key order twice instead, masked to each half (`_Halves`)."""

    __slots__ = ("_base", "_halves", "_passes", "_width", "_words")

    def __init__(self, n: int, index: _Index, layouts: list[PassLayout]) -> None:
        # Byte i >> 3 of every position i <= n exists in a row.
        self._width = n // 8 + 2
        self._passes = len(layouts)
        self._halves = _Halves(layouts, index, n)
        rows = self._passes + len(self._halves.passes)
        self._words = np.zeros(rows * self._width, dtype=np.uint16)
        # Per global block: the bit coordinate of its first bit in the flattened rows (halves:
        # of key position 0 in the row of its half, the pass's row or one after all passes).
        row = index.pass_of.astype(_I64)
        for q, p in enumerate(self._halves.passes):
            gb = np.flatnonzero(index.pass_of == p)
            row[gb] = np.where(self._halves.second[gb], self._passes + q, p)
        self._base = row * self._width * 8 + np.where(self._halves.member, 0, index.start)

    @property
    def halves(self) -> _Halves:
        """Rank and select on the passes of random halves."""
        return self._halves

    def _write(self, row: int, chunk: NDArray[np.uint8]) -> None:
        words = self._words[row * self._width : row * self._width + chunk.shape[0] + 1]
        words[:-1] = chunk
        words |= _prefix_parity(chunk).astype(np.uint16) << 8

    def fill(
        self,
        p: int,
        layout: PassLayout,
        bits: NDArray[np.uint8],
        packed: NDArray[np.uint8] | None = None,
    ) -> None:
        """Take pass p's parities from `bits` (until filled, that pass reads as all zeros);
        `packed`: `np.packbits(bits)`, if the caller has it (passes of halves use it)."""
        if layout.halves is None:
            self._write(p, np.packbits(layout.gather(bits)))
            return
        key = np.packbits(bits) if packed is None else packed
        mask = layout.halves
        self._write(p, key & ~mask)
        self._write(self._passes + self._halves.passes.index(p), key & mask)

    def _head(self, at: NDArray[np.int64]) -> NDArray[np.uint8]:
        """Parity of the bits before bit coordinate `at` in its row."""
        parity: NDArray[np.uint8] = _HEAD_PARITY[((at & 7) << 9) | self._words[at >> 3]]
        return parity

    def blocks(
        self,
        index: _Index,
        gb: NDArray[np.int64],
        lo: NDArray[np.int64],
        hi: NDArray[np.int64],
        *,
        size: NDArray[np.int64] | None = None,
    ) -> NDArray[np.uint8]:
        """Parity of [lo, hi) of each global block gb (block-relative, virtual bits are 0);
        `size`: the blocks' sizes, if the caller has them at hand."""
        if size is None:
            size = index.size[gb]
        # Both ends of every range at once (row 0: lo, row 1: hi), clipped to the real bits.
        ends = np.empty((2, gb.shape[0]), dtype=_I64)
        np.minimum(lo, size, out=ends[0])
        np.minimum(hi, size, out=ends[1])
        halves = self._halves.member[gb]
        if np.count_nonzero(halves):
            pick = np.flatnonzero(halves)
            g, s = gb[pick], size[pick]
            ends[:, pick] = self._halves.coordinates(
                np.concatenate((g, g)), ends[:, pick].reshape(-1), np.concatenate((s, s))
            ).reshape(2, -1)
        ends += self._base[gb]
        parity = self._head(ends)
        out: NDArray[np.uint8] = parity[0] ^ parity[1]
        return out


class CascadeAlice:
    """Alice's side: her key never changes; she answers parity queries from prefix parities."""

    def __init__(self, bits: NDArray[np.uint8], layouts: list[PassLayout]) -> None:
        self._layouts = layouts
        self._index = _Index(layouts)
        self._parities = _Parities(int(bits.shape[0]), self._index, layouts)
        packed = np.packbits(bits)  # Alice's key never changes: packed once for every pass
        for p, layout in enumerate(layouts):
            self._parities.fill(p, layout, bits, packed)
        self.disclosed = 0
        """Parity bits disclosed so far (λ_EC)."""

    def top_parities(self) -> NDArray[np.uint8]:
        """Parities of the top-level blocks of every pass, as disclosed (and counted).

        Pass 1 reveals the parity of each frame, so in every later pass the last block of each
        frame has a parity that follows from the others and is not sent (parity inference).
        """
        index = self._index
        every = np.arange(index.size.shape[0], dtype=_I64)
        tops = self._parities.blocks(index, every, np.zeros_like(every), index.size)
        out = np.delete(tops, index.frame_lasts(self._layouts))
        self.disclosed += int(out.shape[0])
        return out

    def answer(self, passes: NDArray[np.uint8], nodes: NDArray[np.uint32]) -> NDArray[np.uint8]:
        """Alice's parity of each (pass, node); counts the disclosed bits.

        Raises:
            CascadeQueryError: a pass or node out of range.
        """
        if not passes.size:
            return np.empty(0, dtype=np.uint8)
        index = self._index
        if int(passes.max()) >= len(self._layouts):
            raise CascadeQueryError("no such pass")
        # The four per-pass constants of every query in one gather.
        span, count, full, first = index.pass_table[:, passes]
        node = nodes.astype(_I64)
        block = node >> span
        local = node - (block << span)
        # count_nonzero: a direct C call (ndarray.any/all go through Python wrappers).
        if np.count_nonzero(block >= count) or np.count_nonzero(local) != local.shape[0]:
            raise CascadeQueryError("no such node")
        # Node h at level L (2^L <= h < 2^(L+1)) covers [h w - K, h w - K + w), w = K / 2^L.
        width = np.right_shift(full, np.frexp(local)[1] - 1)
        lo = local * width - full
        self.disclosed += int(passes.shape[0])
        return self._parities.blocks(index, first + block, lo, lo + width)


# Rows of Bob's search table (one column per open binary search): global block, heap node,
# range start and width (block-relative), Alice's parity of the node, and two per-block
# constants kept beside them (global id of the block's node 0, real bits in the block).
_GB, _NODE, _LO, _WIDTH, _APAR, _BASE, _SIZE = range(7)


class CascadeBob:
    """Bob's side: corrects his key in place through batched binary searches.

    Use: `q = next_queries()`; while q is not None, send it, feed the reply to
    `apply_replies`, and ask again. Bob's key is then (with high probability) Alice's.
    """

    def __init__(
        self,
        bits: NDArray[np.uint8],
        layouts: list[PassLayout],
        top_parities: NDArray[np.uint8],
        *,
        reuse: bool,
    ) -> None:
        if top_parities.shape[0] != disclosed_top_parities(layouts):
            raise LocalProtocolError("top parities do not match the pass layouts")
        self.bits = bits.copy()
        self._layouts = layouts
        self._index = index = _Index(layouts)
        self._alice_top = self._infer_tops(layouts, top_parities)
        # Bob's parity of a node = the parity of his key over its range when its pass started
        # (O(1) from packed prefix parities) ^ the parity of his later flips inside it
        # (`_flips`: heap layout, global node ids, toggled along the path of each flipped bit
        # in every started pass). A pass is set up when it starts, from the key as it is then.
        self._parities = _Parities(int(bits.shape[0]), index, layouts)
        self._start_top = np.zeros(index.size.shape[0], dtype=np.uint8)
        self._odd = np.zeros(index.size.shape[0], dtype=np.uint8)
        """Per global block of a started pass: Alice's top parity differs from Bob's."""
        self._dirty: list[NDArray[np.int64]] = []
        """Blocks whose parity changed, or that started, since the last wave: every odd block
        gets a search in a wave, which ends with a flip in it or is dropped after one, so the
        odd blocks of the next wave are among these."""
        self._pass_first_node = index.base[index.first_block][:, None]
        self._flips = np.zeros(index.nodes, dtype=np.uint8)
        self._leaf_dtype = np.int32 if index.nodes < 1 << 31 else np.int64
        self._leaf: dict[int, NDArray[np.integer[Any]]] = {}
        """Per started permuted pass: the global leaf id of every key bit."""
        self._frame_start = layouts[0].starts[
            np.cumsum(layouts[0].frame_blocks) - np.asarray(layouts[0].frame_blocks)
        ]
        self._span_mask = (2 * index.pass_width - 1)[:, None]
        # Passes grouped by tree depth (few distinct depths): a flipped leaf's path to the root
        # has depth + 1 nodes, so each group toggles only its own levels.
        self._depth_groups = [
            (np.flatnonzero(index.pass_depth == d), np.arange(int(d) + 1, dtype=_I64))
            for d in np.unique(index.pass_depth)
        ]
        # With reuse, Alice's parity of the left child of every node whose children she has
        # disclosed (2 | parity; 0: unknown), indexed by left child id // 2 (left ids are
        # even). Children are always learnt together and the parent's parity is known to any
        # search standing on it, so the right child follows as parent ^ left.
        self._known = np.zeros(index.nodes // 2 if reuse else 0, dtype=np.uint8)
        self._reuse = reuse
        self._rows = np.zeros((7, 0), dtype=_I64)
        self._started = 0
        self._pending: tuple[NDArray[np.bool_], NDArray[np.int64], NDArray[np.int64]] | None = None
        self._flipped = np.zeros(bits.shape[0], dtype=bool)
        self._packed: tuple[int, NDArray[np.uint8]] | None = None
        """Bob's key packed, and the correction count it was packed at."""
        self.errors_corrected = 0
        self.queries = 0
        self.round_trips = 0

    @staticmethod
    def _infer_tops(layouts: list[PassLayout], shown: NDArray[np.uint8]) -> NDArray[np.uint8]:
        """Alice's top parity of every global block: the last block of each frame in passes
        2 and later follows from the frame's parity (pass 1) and the others."""
        first = shown[: layouts[0].blocks]
        frame_parity = [
            int(np.bitwise_xor.reduce(chunk)) if chunk.size else 0
            for chunk in np.split(first, np.cumsum(layouts[0].frame_blocks)[:-1])
        ]
        tops = [first]
        offset = layouts[0].blocks
        for layout in layouts[1:]:
            pass_tops = np.empty(layout.blocks, dtype=np.uint8)
            start = 0
            for frame, count in enumerate(layout.frame_blocks):
                part = shown[offset : offset + count - 1]
                offset += count - 1
                pass_tops[start : start + count - 1] = part
                rest = int(np.bitwise_xor.reduce(part)) if part.size else 0
                pass_tops[start + count - 1] = frame_parity[frame] ^ rest
                start += count
            tops.append(pass_tops)
        return np.concatenate(tops)

    def _place_leaves(self, p: int, layout: PassLayout) -> None:
        """Where each key bit sits in pass p: its global leaf id."""
        index = self._index
        gb = np.arange(index.first_block[p], index.first_block[p] + layout.blocks)
        # Bit i of the pass order, in block b: base_b + K + (i - start_b).
        shift = index.base[gb] + layout.padded - layout.starts
        leaf = np.repeat(shift.astype(self._leaf_dtype), layout.sizes)
        leaf += np.arange(leaf.shape[0], dtype=self._leaf_dtype)
        if layout.order is not None:
            inverse = np.empty_like(leaf)
            inverse[layout.order] = leaf
            leaf = inverse
        self._leaf[p] = leaf

    def _identity_leaves(
        self, p: int, layout: PassLayout, positions: NDArray[np.int64]
    ) -> NDArray[np.int64]:
        """Global leaf ids of key positions in a pass that keeps the key order (no table)."""
        index = self._index
        gb = np.searchsorted(layout.starts, positions, side="right") - 1 + index.first_block[p]
        leaf: NDArray[np.int64] = index.base[gb] + layout.padded + positions - index.start[gb]
        return leaf

    def _bob_parity(
        self,
        rows: NDArray[np.int64],
        lo: NDArray[np.int64],
        hi: NDArray[np.int64],
        node: NDArray[np.int64],
    ) -> NDArray[np.uint8]:
        """Bob's current parity of [lo, hi) of the block of each search row, heap node `node`
        (global id)."""
        parity = self._parities.blocks(self._index, rows[_GB], lo, hi, size=rows[_SIZE])
        return parity ^ self._flips[node]

    # -- driving ------------------------------------------------------------------------------
    def next_queries(self) -> tuple[NDArray[np.uint8], NDArray[np.uint32]] | None:
        """The next batch of parity queries, or None when Cascade has finished."""
        if self._pending is not None:
            raise LocalProtocolError("replies to the previous queries are still outstanding")
        index = self._index
        while True:
            if not self._rows.shape[1] and not self._spawn_or_advance():
                return None
            rows = self._rows
            gb, node = rows[_GB], rows[_NODE]
            mid = rows[_LO] + (rows[_WIDTH] >> 1)
            left = rows[_BASE] + 2 * node
            # Right child entirely virtual: the left child carries the whole (odd) parity.
            free = mid >= rows[_SIZE]
            apar = rows[_APAR]
            if self._reuse:
                known = self._known[left >> 1]
                left_par = np.where(free, apar, known & 1)
                need = ~free & (known < 2)
            else:
                left_par = apar.copy()
                need = ~free
            self._pending = (need, left_par, left)
            wanted = gb[need]
            if wanted.shape[0]:
                nodes = (index.local[wanted] + 2 * node[need]).astype(np.uint32)
                self.queries += int(nodes.shape[0])
                self.round_trips += 1
                return index.pass_of[wanted], nodes
            self.apply_replies(np.zeros(0, dtype=np.uint8))

    def apply_replies(self, parities: NDArray[np.uint8]) -> None:
        """Feed Alice's answers to the last queries (in query order) and descend one level.

        Raises:
            CascadeQueryError: the parities are inconsistent (a bit located twice).
        """
        if self._pending is None:
            raise LocalProtocolError("no queries outstanding")
        (need, left_par, left), self._pending = self._pending, None
        if parities.shape[0] != int(np.count_nonzero(need)):
            raise LocalProtocolError("reply length does not match the queries")
        left_par[need] = parities
        rows = self._rows
        apar = rows[_APAR]
        right_par = apar ^ left_par
        if self._reuse:
            self._known[left >> 1] = left_par | 2
        # Bob's left parity equals Alice's: the odd error count is in the right child.
        half = rows[_WIDTH] >> 1
        lo = rows[_LO]
        go_right = self._bob_parity(rows, lo, lo + half, left) == left_par
        rows[_LO] += half * go_right
        rows[_NODE] *= 2
        rows[_NODE] += go_right
        rows[_APAR] = np.where(go_right, right_par, left_par)
        rows[_WIDTH] = half
        leaf = half == 1
        if np.count_nonzero(leaf):
            found = self._positions(rows[_GB, leaf], rows[_LO, leaf])
            self._rows = rows[:, ~leaf]
            if found.shape[0]:
                self._apply_flips(np.unique(found))

    # -- internals ----------------------------------------------------------------------------
    def _positions(self, gb: NDArray[np.int64], lo: NDArray[np.int64]) -> NDArray[np.int64]:
        """Key positions of found leaves (rows are sorted by pass: one gather per pass)."""
        index = self._index
        where = index.start[gb] + lo
        passes = index.pass_of[gb]
        cuts = [0, *(np.flatnonzero(np.diff(passes)) + 1).tolist(), int(gb.shape[0])]
        for a, b in itertools.pairwise(cuts):
            layout = self._layouts[int(passes[a])]
            if layout.halves is not None:
                where[a:b] = self._parities.halves.select(gb[a:b], lo[a:b])
            elif layout.order is not None:
                where[a:b] = layout.order[where[a:b]]
        return where

    def _spawn_or_advance(self) -> bool:
        """Open searches on odd blocks; start further passes until one has work. False: done."""
        index = self._index
        while True:
            if self._dirty:
                candidates = np.unique(np.concatenate(self._dirty))
                self._dirty = []
                odd = candidates[self._odd[candidates] == 1]
                if odd.shape[0]:
                    rows = np.empty((7, odd.shape[0]), dtype=_I64)
                    rows[_GB] = odd
                    rows[_NODE] = 1
                    rows[_LO] = 0
                    rows[_WIDTH] = index.pass_width[index.pass_of[odd]]
                    rows[_APAR] = self._alice_top[odd]
                    rows[_BASE] = index.base[odd]
                    rows[_SIZE] = index.size[odd]
                    self._rows = rows
                    return True
            if self._started == len(self._layouts):
                return False
            self._start_pass(self._started)
            self._started += 1

    def _start_pass(self, p: int) -> None:
        layout = self._layouts[p]
        index = self._index
        # Bob's key changes only by flips: the packed copy is reused until one happens.
        if self._packed is None or self._packed[0] != self.errors_corrected:
            self._packed = (self.errors_corrected, np.packbits(self.bits))
        self._parities.fill(p, layout, self.bits, self._packed[1])
        if layout.halves is None and layout.order is not None:
            self._place_leaves(p, layout)
        blocks = np.arange(index.first_block[p], index.first_block[p] + layout.blocks)
        self._start_top[blocks] = self._parities.blocks(
            index, blocks, np.zeros_like(blocks), index.size[blocks]
        )
        self._odd[blocks] = self._start_top[blocks] ^ self._alice_top[blocks]
        self._dirty.append(blocks)

    def _apply_flips(self, positions: NDArray[np.int64]) -> None:
        # With Alice's true parities every located bit is a real error, so none is found twice;
        # a repeat means forged or corrupted replies (and guarantees termination).
        if np.count_nonzero(self._flipped[positions]):
            raise CascadeQueryError("inconsistent parities: a bit was located twice")
        self._flipped[positions] = True
        self.bits[positions] ^= 1
        self.errors_corrected += int(positions.shape[0])
        # Every pass: toggle the path from the flipped leaf to its block's root (passes are
        # grouped by depth, so each toggles exactly its own depth + 1 levels).
        frame = np.searchsorted(self._frame_start, positions, side="right") - 1
        leaf = np.empty((self._started, positions.shape[0]), dtype=_I64)
        halves = self._parities.halves
        started_halves = [p for p in halves.passes if p < self._started]
        for p in range(self._started):
            layout = self._layouts[p]
            if layout.halves is not None:
                continue
            if layout.order is None:
                leaf[p] = self._identity_leaves(p, layout, positions)
            else:
                leaf[p] = self._leaf[p][positions]
        if started_halves:
            leaf[started_halves] = halves.leaves(len(started_halves), positions, frame, self._index)
        local = leaf & self._span_mask[: self._started]
        root = leaf - local
        paths = []
        for passes, levels in self._depth_groups:
            passes = passes[passes < self._started]
            if passes.shape[0]:
                paths.append((root[passes, :, None] + (local[passes, :, None] >> levels)).ravel())
        _toggle(self._flips, np.concatenate(paths))
        started = self._started
        index = self._index
        gb = (leaf - self._pass_first_node[:started]) >> (index.pass_depth[:started, None] + 1)
        gb += index.first_block[:started, None]
        gb = gb.reshape(-1)
        self._odd[gb] = self._alice_top[gb] ^ self._start_top[gb] ^ self._flips[index.base[gb] + 1]
        self._dirty.append(gb)
        rows = self._rows
        if rows.shape[1]:
            # A search whose range now holds an even number of errors (it gained an odd number
            # of flips) is dropped; its block is re-examined from the updated top parity.
            lo = rows[_LO]
            nodes = rows[_BASE] + rows[_NODE]
            keep = self._bob_parity(rows, lo, lo + rows[_WIDTH], nodes) != rows[_APAR]
            if np.count_nonzero(keep) != keep.shape[0]:
                self._rows = rows[:, keep]
