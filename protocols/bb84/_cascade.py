"""Cascade error correction, compiled: Alice's parity oracle and Bob's batched binary searches.

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
The public randomness of pass j in frame f is `numpy.random.default_rng([seed, j, f])`
(SeedSequence, PCG64); its permutations and mask bytes are replayed by compiled code, which the
tests check against numpy's.

Batching. Bob keeps every open binary search as a row of one table, and advances all of
them one level per round trip: one `ParityQuery` carries every left-child parity he still needs
(parities he can infer from known ones are not asked again). Flips are applied after the whole
level; a search whose range then holds an even number of errors is dropped and the block is
re-examined from its (updated) top parity, which is how Cascade's backtracking into earlier
passes happens here. New searches open, on every odd block in global block order, when the
current wave has finished. All passes share one global numbering of blocks (`_Tables`).

Parities. Keys are packed 64 bits to a word; a range's parity is the XOR of its words. Alice's
key never changes; Bob flips bits in his key and in his pass-order copies of the permuted
passes (found through the inverse permutation). Passes of random halves never materialise
their order: a half is the frame's bits where the public mask says so, so its parities come
from the key in key order masked to that half, and positions from rank and select on the mask.
Every step (a level of all searches, the flips, the next wave) is one call into the compiled
kernels (`_cascade_kernels`). All top-level block parities are public in every Cascade run;
Alice sends them for all passes at once, which saves one round trip per pass and leaks nothing
extra; pass 1 reveals each frame's parity, so the last block of each frame in later passes is
inferred, not sent.

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

from protocols.bb84 import _cascade_kernels as kernels
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
_NO_REPLIES = np.zeros(0, dtype=np.uint8)


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


def _seed_words(seed: bytes) -> NDArray[np.uint64]:
    """The seed as numpy's SeedSequence splits an integer: 32-bit words, least significant
    first (one zero word for 0)."""
    value = int.from_bytes(seed, "big")
    words = []
    while True:
        words.append(value & 0xFFFFFFFF)
        value >>= 32
        if not value:
            return np.array(words, dtype=np.uint64)


def _frame_permutation(
    out: NDArray[np.int32], offset: int, seed: bytes, index: int, frame: int
) -> None:
    """out = offset + numpy.random.default_rng([seed, index, frame]).permutation(len(out)),
    compiled (SeedSequence, PCG64 and numpy's shuffle replayed; the tests check it)."""
    kernels.frame_permutation(out, offset, _seed_words(seed), index, frame)


def _frame_bytes(count: int, seed: bytes, index: int, frame: int) -> NDArray[np.uint8]:
    """numpy.random.default_rng([seed, index, frame]).bytes(count), compiled."""
    out = np.empty(count, dtype=np.uint8)
    kernels.frame_bytes(out, _seed_words(seed), index, frame)
    return out


def build_pass(n: int, k: int, seed: bytes, index: int, frame: int = 0) -> PassLayout:
    """The layout of pass `index` (0-based) with block size k over one frame of n bits."""
    return _frames_pass([n], [k], seed, index, first_frame=frame)


def _frame_kinds(frame_sizes: list[int], ks: list[int], index: int) -> list[str]:
    """How pass `index` reorders each frame."""
    return [
        "identity" if index == 0 or n < 2 else "halves" if 2 * k >= n else "permutation"
        for n, k in zip(frame_sizes, ks, strict=True)
    ]


def _has_order(kinds: list[str]) -> bool:
    """Whether a pass materialises its order (all but the identity and pure halves passes)."""
    return not all(kind == "halves" for kind in kinds) and any(k != "identity" for k in kinds)


def _frames_pass(
    frame_sizes: list[int],
    ks: list[int],
    seed: bytes,
    index: int,
    *,
    first_frame: int = 0,
    out: NDArray[np.int32] | None = None,
) -> PassLayout:
    """Pass `index` over consecutive frames (block size ks[f] in frame f), each frame with its
    own public randomness; orders are written in place into one array for the whole key
    (`out`, if given)."""
    total = sum(frame_sizes)
    kinds = _frame_kinds(frame_sizes, ks, index)
    if len(set(kinds)) == 1:
        return _uniform_pass(frame_sizes, ks, seed, index, kinds[0], first_frame, out)
    halves = all(kind == "halves" for kind in kinds)
    order: NDArray[np.int32] | None = None
    if _has_order(kinds):
        order = np.empty(total, dtype=_IDX) if out is None else out
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
            raw = _frame_bytes((n + 7) // 8, seed, index, first_frame + frame)
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
                    _frame_permutation(chunk, offset, seed, index, first_frame + frame)
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


def _uniform_pass(
    frame_sizes: list[int],
    ks: list[int],
    seed: bytes,
    index: int,
    kind: str,
    first_frame: int,
    out: NDArray[np.int32] | None,
) -> PassLayout:
    """`_frames_pass` when every frame is reordered the same way: one kernel call draws every
    frame's permutation or mask, and the blocks of all frames are cut at once."""
    sizes_f = np.array(frame_sizes, dtype=_I64)
    offsets = np.cumsum(sizes_f) - sizes_f
    total = int(sizes_f.sum())
    words = _seed_words(seed)
    if kind == "halves":
        mask = np.zeros(total // 64 + 2, dtype=np.uint64)
        zeros = np.empty(sizes_f.shape[0], dtype=_I64)
        kernels.pass_halves(mask, sizes_f, words, index, first_frame, zeros)
        packed = mask.astype(">u8").view(np.uint8)  # np.packbits order
        # Each frame: its zeros, then its ones (a half that is empty is no block).
        pairs = np.stack((zeros, sizes_f - zeros), axis=1)
        real = pairs > 0
        sizes = pairs[real]
        starts = np.stack((offsets, offsets + zeros), axis=1)[real]
        counts = np.count_nonzero(real, axis=1)
        depth = max(0, int(sizes.max(initial=1) - 1).bit_length())
        return PassLayout(
            None, starts, sizes, depth, tuple(counts.tolist()), packed[: (total + 7) // 8]
        )
    order: NDArray[np.int32] | None = None
    if kind == "permutation":
        order = np.empty(total, dtype=_IDX) if out is None else out
        kernels.pass_permutations(order, sizes_f, words, index, first_frame)
    k = np.maximum(1, np.minimum(np.array(ks, dtype=_I64), sizes_f))
    counts = -(-sizes_f // k)
    frame_of = np.repeat(np.arange(sizes_f.shape[0]), counts)
    local = np.arange(int(counts.sum()), dtype=_I64) - np.repeat(np.cumsum(counts) - counts, counts)
    starts = offsets[frame_of] + local * k[frame_of]
    sizes = np.minimum(k[frame_of], sizes_f[frame_of] - local * k[frame_of])
    depth = max(0, int(k.max(initial=1) - 1).bit_length())
    return PassLayout(order, starts, sizes, depth, tuple(counts.tolist()))


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
    ks = [[schedule[index] for schedule in schedules] for index in range(len(schedules[0]))]
    ordered = [i for i, k in enumerate(ks) if _has_order(_frame_kinds(frame_sizes, k, i))]
    # The orders are rows of one table, which the engines then use without a copy.
    orders = np.empty((len(ordered), sum(frame_sizes)), dtype=_IDX)
    rows = dict(zip(ordered, orders, strict=True))
    return [
        _frames_pass(frame_sizes, k, seed, index, out=rows.get(index)) for index, k in enumerate(ks)
    ]


def disclosed_top_parities(layouts: list[PassLayout]) -> int:
    """How many top-level parities Alice sends: all of pass 1, in later passes all but the
    last block of each frame."""
    return layouts[0].blocks + sum(
        layout.blocks - len(layout.frame_blocks) for layout in layouts[1:]
    )


class _Tables:
    """The public layout as the kernels read it: per global block, per pass, per (pass, frame),
    and the packed masks of the passes of random halves with their rank counts.

    Global block `gb` = first block of its pass + block; passes are numbered as on the wire.
    """

    __slots__ = (
        "blk",
        "frame_lasts",
        "frame_start",
        "known_size",
        "masks",
        "n",
        "ones",
        "ordered",
        "orders",
        "pas",
        "pf",
        "words",
    )

    def __init__(self, layouts: list[PassLayout]) -> None:
        passes = len(layouts)
        counts = np.array([layout.blocks for layout in layouts], dtype=_I64)
        first = np.concatenate(([0], np.cumsum(counts)[:-1])).astype(_I64)
        frame_blocks = np.array([layout.frame_blocks for layout in layouts], dtype=_I64)
        frames = frame_blocks.shape[1]
        frame_of0 = np.repeat(np.arange(frames), frame_blocks[0])
        frame_sizes = np.bincount(frame_of0, weights=layouts[0].sizes, minlength=frames)
        self.frame_start = np.concatenate(([0], np.cumsum(frame_sizes.astype(_I64)))).astype(_I64)
        """Key position of each frame's first bit, and the key length last."""
        self.n = n = int(self.frame_start[-1])
        self.words = n // 64 + 1  # every bit i <= n has its word
        self.ordered = [p for p, layout in enumerate(layouts) if _kind(layout) == 1]
        """Passes with an order array (their pass-order copies are rows of one table)."""
        self.orders = _order_table([layouts[p].order for p in self.ordered], n)
        """The orders of the ordered passes, one row each."""
        halves = [p for p, layout in enumerate(layouts) if _kind(layout) == 2]
        self.pas = np.zeros((kernels.P_FIELDS, passes), dtype=_I64)
        self.pas[kernels.P_KIND] = [_kind(layout) for layout in layouts]
        self.pas[kernels.P_DEPTH] = [layout.depth for layout in layouts]
        self.pas[kernels.P_FIRST] = first
        self.pas[kernels.P_BLOCKS] = counts
        self.pas[kernels.P_ROW, self.ordered] = 1 + np.arange(len(self.ordered))
        self.pas[kernels.P_ROW, halves] = np.arange(len(halves))
        total = int(counts.sum())
        # One row per block, its fields side by side (int32 when they fit, below).
        blk: NDArray[np.signedinteger[Any]] = np.zeros((total, kernels.B_FIELDS), dtype=_I64)
        self.blk = blk
        blk[:, kernels.B_LOCAL] = np.concatenate(
            [np.arange(layout.blocks, dtype=_I64) * (2 * layout.padded) for layout in layouts]
        )
        blk[:, kernels.B_SIZE] = np.concatenate([layout.sizes for layout in layouts])
        blk[:, kernels.B_START] = np.concatenate([layout.starts for layout in layouts])
        blk[:, kernels.B_PASS] = np.repeat(np.arange(passes), counts)
        spans = np.repeat(np.array([layout.padded for layout in layouts], dtype=_I64), counts)
        blk[:, kernels.B_KNOWN] = np.cumsum(spans) - spans
        self.known_size = int(spans.sum())
        """Entries of the known-parity table: K per block (one per internal node, h < K)."""
        frame_first = np.cumsum(frame_blocks, axis=1) - frame_blocks
        self.pf = np.zeros((3, passes, frames), dtype=_I64)
        """Per (pass, frame): first global block, block size (all but a frame's last block
        have it), blocks."""
        self.pf[0] = first[:, None] + frame_first
        for p, layout in enumerate(layouts):
            has = frame_blocks[p] > 0
            self.pf[1, p] = 1
            self.pf[1, p, has] = layout.sizes[frame_first[p, has]]
        self.pf[2] = frame_blocks
        self.masks = np.zeros((max(1, len(halves)), self.words), dtype=np.uint64)
        for q, p in enumerate(halves):
            mask = layouts[p].halves
            assert mask is not None
            self.masks[q] = _words(mask, self.words)
        self.ones = np.zeros_like(self.masks, dtype=_I64)
        np.cumsum(np.bitwise_count(self.masks[:, :-1]), axis=1, out=self.ones[:, 1:])
        for q, p in enumerate(halves):
            gb = np.arange(first[p], first[p] + counts[p])
            frame_of = np.repeat(np.arange(frames), frame_blocks[p])
            place = gb - self.pf[0, p, frame_of]
            fs = self.frame_start[frame_of]
            word, bit = fs >> 6, (fs & 63).astype(np.uint64)
            start_bit = (self.masks[q, word] >> (np.uint64(63) - bit)) & np.uint64(1)
            half = np.where(frame_blocks[p, frame_of] == 1, start_bit.astype(_I64), place)
            ones = self.ones[q, word] + np.bitwise_count(self.masks[q, word] & ~(_ALL >> bit))
            blk[gb, kernels.B_FS] = fs
            blk[gb, kernels.B_FE] = self.frame_start[frame_of + 1]
            blk[gb, kernels.B_HALF] = half
            blk[gb, kernels.B_RANK] = np.where(half == 1, ones, fs - ones)
        if int(blk.max(initial=0)) < 1 << 31:
            self.blk = blk.astype(np.int32)  # half the memory traffic of the searches
        lasts = [
            first[p] + np.cumsum(frame_blocks[p]) - 1
            for p in range(1, passes)
            if frame_blocks[p].sum()
        ]
        self.frame_lasts = np.concatenate(lasts) if lasts else np.zeros(0, dtype=_I64)
        """Global block of the last block of each frame, in passes 2 and later."""

    def key_words(self, bits: NDArray[np.uint8]) -> NDArray[np.uint64]:
        """A key packed for the kernels: row 0 in key order, row 1 + q (filled later) in the
        order of the q-th ordered pass."""
        words = np.zeros((1 + len(self.ordered), self.words), dtype=np.uint64)
        words[0] = _words(np.packbits(bits), self.words)
        return words


_ALL = np.uint64(0xFFFFFFFFFFFFFFFF)


def _order_table(orders: list[NDArray[np.int32] | None], n: int) -> NDArray[np.int32]:
    """The given orders as rows of one table: `build_layouts`' own table when they are its
    rows in this order, a copy otherwise."""
    arrays = [order for order in orders if order is not None]
    if not arrays:
        return np.zeros((1, 0), dtype=_IDX)
    base = arrays[0].base
    if (
        isinstance(base, np.ndarray)
        and base.shape == (len(arrays), n)
        and base.dtype == _IDX
        and base.flags.c_contiguous
        and all(
            order.base is base and order.ctypes.data == base.ctypes.data + row * 4 * n
            for row, order in enumerate(arrays)
        )
    ):
        return base
    return np.stack(arrays).astype(_IDX)


def _kind(layout: PassLayout) -> int:
    """0: the key order, 1: an order array, 2: random halves (kernels' P_KIND)."""
    return 2 if layout.halves is not None else 0 if layout.order is None else 1


def _words(packed: NDArray[np.uint8], words: int) -> NDArray[np.uint64]:
    """Bytes in `np.packbits` order as `words` 64-bit words, most significant bit first."""
    raw = np.zeros(8 * words, dtype=np.uint8)
    raw[: packed.shape[0]] = packed
    return raw.view(">u8").astype(np.uint64)


class CascadeAlice:
    """Alice's side: her key never changes; she answers parity queries from it."""

    def __init__(self, bits: NDArray[np.uint8], layouts: list[PassLayout]) -> None:
        self._tables = tables = _Tables(layouts)
        self._words = tables.key_words(bits)
        for q in range(len(tables.ordered)):
            kernels.gather(tables.orders, q, self._words, 1 + q, tables.orders, False)
        self._args = (tables.blk, tables.pas, self._words, tables.masks, tables.ones)
        self.disclosed = 0
        """Parity bits disclosed so far (λ_EC)."""

    def top_parities(self) -> NDArray[np.uint8]:
        """Parities of the top-level blocks of every pass, as disclosed (and counted).

        Pass 1 reveals the parity of each frame, so in every later pass the last block of each
        frame has a parity that follows from the others and is not sent (parity inference).
        """
        t = self._tables
        tops = np.zeros(t.blk.shape[0], dtype=np.uint8)
        kernels.block_parities(0, tops.shape[0], t.blk, t.pas, self._words, t.masks, t.ones, tops)
        out = np.delete(tops, t.frame_lasts)
        self.disclosed += int(out.shape[0])
        return out

    def answer(self, passes: NDArray[np.uint8], nodes: NDArray[np.uint32]) -> NDArray[np.uint8]:
        """Alice's parity of each (pass, node); counts the disclosed bits.

        Raises:
            CascadeQueryError: a pass or node out of range.
        """
        if not passes.size:
            return np.empty(0, dtype=np.uint8)
        out = np.empty(passes.shape[0], dtype=np.uint8)
        passes = np.ascontiguousarray(passes, dtype=np.uint8)  # read only: no copies
        nodes = np.ascontiguousarray(nodes, dtype=np.uint32)
        code = kernels.answer(passes, nodes, *self._args, out)
        if code:
            raise CascadeQueryError("no such pass" if code == 1 else "no such node")
        self.disclosed += int(passes.shape[0])
        return out


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
        self.bits = bits.astype(np.uint8)  # a copy: Bob corrects it in place
        self._layouts = layouts
        self._tables = t = _Tables(layouts)
        blocks = t.blk.shape[0]
        self._alice_top = self._infer_tops(layouts, top_parities)
        self._words = t.key_words(self.bits)
        """Bob's key as it is now, packed, and its pass-order copies (flips update them all
        and `bits`)."""
        self._inverse = np.empty_like(t.orders)
        self._odd = np.zeros(blocks // 64 + 1, dtype=np.uint64)
        """Bit gb % 64 of word gb // 64: block gb (of a started pass) is odd, i.e. Alice's top
        parity differs from Bob's."""
        # With reuse, Alice's parity of the left child of every node whose children she has
        # disclosed (2 | parity, two bits per entry; 0: unknown), indexed by the node. Children
        # are always learnt together and the parent's parity is known to any search standing
        # on it, so the right child follows as parent ^ left.
        self._known = np.zeros((t.known_size + 3) // 4 if reuse else 0, dtype=np.uint8)
        self._rows = np.zeros((blocks, kernels.R_FIELDS), dtype=np.int32)
        self._row_of = np.full(blocks, -1, dtype=np.int32)
        self._flipped = np.zeros(t.n // 64 + 1, dtype=np.uint64)  # bit x % 64 of word x // 64
        self._found = np.zeros(blocks, dtype=_I64)
        self._out_passes = np.zeros(blocks, dtype=np.uint8)
        self._out_nodes = np.zeros(blocks, dtype=np.uint32)
        self._ctl = np.zeros(kernels.C_FIELDS, dtype=_I64)
        self._ready: int | None = None
        """The kernel's last answer: queries waiting in the out arrays (> 0), or -1."""
        self._outstanding = 0
        self._state: tuple[tuple[NDArray[Any], ...], ...] | None = None
        """The kernel's arrays, gathered on first use (`bits` is read at every call)."""
        self.queries = 0
        self.round_trips = 0

    @property
    def errors_corrected(self) -> int:
        """Bits flipped so far."""
        return int(self._ctl[kernels.C_ERRORS])

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
        return np.concatenate(tops).astype(np.uint8)

    # -- driving ------------------------------------------------------------------------------
    def next_queries(self) -> tuple[NDArray[np.uint8], NDArray[np.uint32]] | None:
        """The next batch of parity queries, or None when Cascade has finished."""
        if self._outstanding:
            raise LocalProtocolError("replies to the previous queries are still outstanding")
        while True:
            if self._ready is None:
                self._ready = self._step(_NO_REPLIES)
            count, self._ready = self._ready, None
            if count > 0:
                break
            started = int(self._ctl[kernels.C_STARTED])
            if started == len(self._layouts):
                return None
            self._start_pass(started)
        self._outstanding = count
        self.queries += count
        self.round_trips += 1
        return self._out_passes[:count].copy(), self._out_nodes[:count].copy()

    def apply_replies(self, parities: NDArray[np.uint8]) -> None:
        """Feed Alice's answers to the last queries (in query order) and descend one level.

        Raises:
            CascadeQueryError: the parities are inconsistent (a bit located twice).
        """
        if not self._outstanding:
            raise LocalProtocolError("no queries outstanding")
        count, self._outstanding = self._outstanding, 0
        if parities.shape[0] != count:
            self._ctl[kernels.C_PENDING] = 0  # the same level is asked again
            raise LocalProtocolError("reply length does not match the queries")
        self._ready = self._step(np.ascontiguousarray(parities, dtype=np.uint8))
        if self._ready == -2:
            raise CascadeQueryError("inconsistent parities: a bit was located twice")

    # -- internals ----------------------------------------------------------------------------
    def _step(self, replies: NDArray[np.uint8]) -> int:
        t = self._tables
        if self._state is None:
            self._state = (
                (self._ctl, self._rows, self._row_of, t.blk, t.pas, t.frame_start, t.pf),
                (self._odd, self._alice_top, self._known),
                (self._flipped, self._words, t.orders, self._inverse, t.masks, t.ones),
                (self._found, self._out_passes, self._out_nodes),
            )
        head, middle, tail, out = self._state
        return int(kernels.bob_step(replies, *head, *middle, self.bits, *tail, *out))

    def _start_pass(self, p: int) -> None:
        t = self._tables
        kernels.start_pass(
            p,
            self._ctl,
            t.blk,
            t.pas,
            self._odd,
            self._alice_top,
            self._words,
            t.orders,
            self._inverse,
            t.masks,
            t.ones,
        )
