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
earlier passes happens here. New searches open when the current wave has finished. Bob reads
his own node parities from a parity tree per pass (built when the pass first needs a search,
updated along the path of every flipped bit). All top-level block parities are public in every
Cascade run; Alice sends them for all passes at once, which saves one round trip per pass and
leaks nothing extra; pass 1 reveals each frame's parity, so the last block of each frame in later
passes is inferred, not sent.

Frames. A long key is cut into frames (`split_frames`) that keep their own schedule and
permutations and are reconciled side by side: blocks never straddle frames, and one batch of
queries serves every frame, so a long key costs about the round trips of one frame.

Leakage λ_EC = the number of parity bits Alice discloses (top-level and queried). With honest
parities every located bit is a real error; a bit located twice means inconsistent (forged or
corrupted) parities and ends the run, which also bounds its length.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

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
    """Key positions in pass order (None: the identity)."""
    starts: NDArray[np.int64]
    """Offset of each block in pass order."""
    sizes: NDArray[np.int64]
    """Real bits in each block (> 0)."""
    depth: int
    """log2 of the padded block size K."""
    frame_blocks: tuple[int, ...]
    """Blocks of each frame, in order (frames are reconciled side by side, never mixed)."""

    @property
    def blocks(self) -> int:
        return int(self.starts.shape[0])

    @property
    def padded(self) -> int:
        return 1 << self.depth

    def gather(self, bits: NDArray[np.uint8]) -> NDArray[np.uint8]:
        """The key in pass order."""
        return bits if self.order is None else bits[self.order]

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

    def top_parities(self, bits: NDArray[np.uint8]) -> NDArray[np.uint8]:
        """Parity of each block of `bits` (given in key order)."""
        sums = np.add.reduceat(self.gather(bits), self.starts, dtype=_I64)
        return (sums & 1).astype(np.uint8)


def _pass_rng(seed: bytes, index: int, frame: int) -> np.random.Generator:
    return np.random.default_rng([int.from_bytes(seed, "big"), index, frame])


def build_pass(n: int, k: int, seed: bytes, index: int, frame: int = 0) -> PassLayout:
    """The layout of pass `index` (0-based) with block size k over one frame of n bits."""
    if index == 0 or n < 2:
        order = None
    elif 2 * k >= n:
        # Two random halves: a public random mask, stably partitioned (cheaper than a shuffle).
        raw = np.frombuffer(_pass_rng(seed, index, frame).bytes((n + 7) // 8), dtype=np.uint8)
        mask = np.unpackbits(raw, count=n).view(bool)
        first = np.flatnonzero(~mask)
        second = np.flatnonzero(mask)
        order = np.concatenate((first, second)).astype(_IDX)
        sizes = np.array([s for s in (first.shape[0], second.shape[0]) if s], dtype=_I64)
        starts = np.concatenate(([0], np.cumsum(sizes)[:-1])).astype(_I64)
        depth = max(0, int(sizes.max() - 1).bit_length())
        return PassLayout(order, starts, sizes, depth, (int(sizes.shape[0]),))
    else:
        order = _pass_rng(seed, index, frame).permutation(n).astype(_IDX)
    k = max(1, min(k, n))
    starts = np.arange(0, n, k, dtype=_I64)
    sizes = np.minimum(k, n - starts)
    return PassLayout(order, starts, sizes, max(0, (k - 1).bit_length()), (int(sizes.shape[0]),))


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
    offsets = np.concatenate(([0], np.cumsum(frame_sizes)[:-1])).astype(_I64)
    layouts = []
    for index in range(len(schedules[0])):
        parts = [
            build_pass(size, schedules[f][index], seed, index, f)
            for f, size in enumerate(frame_sizes)
        ]
        if len(parts) == 1:
            layouts.append(parts[0])
            continue
        order: NDArray[np.int32] | None = None
        if any(p.order is not None for p in parts):
            order = np.empty(int(offsets[-1]) + frame_sizes[-1], dtype=_IDX)
            for p, size, off in zip(parts, frame_sizes, offsets, strict=True):
                chunk = order[off : off + size]
                if p.order is None:
                    chunk[:] = np.arange(off, off + size, dtype=_IDX)
                else:
                    np.add(p.order, _IDX(off), out=chunk)
        layouts.append(
            PassLayout(
                order,
                np.concatenate([p.starts + off for p, off in zip(parts, offsets, strict=True)]),
                np.concatenate([p.sizes for p in parts]),
                max(p.depth for p in parts),
                tuple(p.blocks for p in parts),
            )
        )
    return layouts


def _node_ranges(nodes: NDArray[np.int64], depth: int) -> tuple[NDArray[np.int64], ...]:
    """Block-relative [lo, hi) of local heap nodes in a tree of depth `depth`."""
    level = np.frexp(nodes.astype(np.float64))[1].astype(_I64) - 1
    width = np.left_shift(1, depth - level)
    lo = (nodes - np.left_shift(1, level)) * width
    return lo, lo + width


def disclosed_top_parities(layouts: list[PassLayout]) -> int:
    """How many top-level parities Alice sends: all of pass 1, in later passes all but the
    last block of each frame."""
    return layouts[0].blocks + sum(
        layout.blocks - len(layout.frame_blocks) for layout in layouts[1:]
    )


def _last_blocks(layout: PassLayout) -> NDArray[np.int64]:
    return np.cumsum(np.asarray(layout.frame_blocks, dtype=_I64)) - 1


class CascadeAlice:
    """Alice's side: her key never changes; she answers parity queries from prefix sums."""

    def __init__(self, bits: NDArray[np.uint8], layouts: list[PassLayout]) -> None:
        self._bits = bits
        self._layouts = layouts
        self._prefix: dict[int, NDArray[np.uint8]] = {}
        self.disclosed = 0
        """Parity bits disclosed so far (λ_EC)."""

    def top_parities(self) -> NDArray[np.uint8]:
        """Parities of the top-level blocks of every pass, as disclosed (and counted).

        Pass 1 reveals the parity of each frame, so in every later pass the last block of each
        frame has a parity that follows from the others and is not sent (parity inference).
        """
        parts = [layout.top_parities(self._bits) for layout in self._layouts]
        shown = [
            np.delete(part, _last_blocks(layout))
            for part, layout in zip(parts[1:], self._layouts[1:], strict=True)
        ]
        out = np.concatenate([parts[0], *shown])
        self.disclosed += int(out.shape[0])
        return out

    def _prefix_of(self, index: int) -> NDArray[np.uint8]:
        prefix = self._prefix.get(index)
        if prefix is None:
            layout = self._layouts[index]
            width = layout.padded
            virtual = np.zeros((layout.blocks, width), dtype=np.uint8)
            virtual.reshape(-1)[layout.virtual_index()] = layout.gather(self._bits)
            prefix = np.zeros((layout.blocks, width + 1), dtype=np.uint8)
            np.bitwise_xor.accumulate(virtual, axis=1, out=prefix[:, 1:])
            self._prefix[index] = prefix
        return prefix

    def answer(self, passes: NDArray[np.uint8], nodes: NDArray[np.uint32]) -> NDArray[np.uint8]:
        """Alice's parity of each (pass, node); counts the disclosed bits.

        Raises:
            CascadeQueryError: a pass or node out of range.
        """
        out = np.empty(passes.shape[0], dtype=np.uint8)
        if not passes.size:
            return out
        if int(passes.max()) >= len(self._layouts):
            raise CascadeQueryError("no such pass")
        # Bob groups his queries by pass; one slice per group (any order is still answered).
        cuts = np.flatnonzero(np.diff(passes)) + 1
        starts = [0, *cuts.tolist()]
        ends = [*cuts.tolist(), passes.shape[0]]
        for a, b in zip(starts, ends, strict=True):
            index = int(passes[a])
            layout = self._layouts[index]
            span = 2 * layout.padded
            block, local = np.divmod(nodes[a:b].astype(_I64), span)
            if int(block.max()) >= layout.blocks or not local.all():
                raise CascadeQueryError("no such node")
            lo, hi = _node_ranges(local, layout.depth)
            prefix = self._prefix_of(index)
            out[a:b] = prefix[block, hi] ^ prefix[block, lo]
        self.disclosed += int(passes.shape[0])
        return out


class _Pass:
    """Bob's working state for one started pass."""

    __slots__ = (
        "alice_top",
        "bob_top",
        "known",
        "kpar",
        "layout",
        "located",
        "s_apar",
        "s_block",
        "s_lo",
        "s_node",
        "s_width",
        "searching",
        "tree",
    )

    def __init__(
        self,
        layout: PassLayout,
        alice_top: NDArray[np.uint8],
        bits: NDArray[np.uint8],
        reuse: bool,
    ) -> None:
        self.layout = layout
        self.alice_top = alice_top
        self.bob_top = layout.top_parities(bits)
        # Where each key bit sits in this pass: block * K + offset (K = padded block size).
        if layout.order is None:
            self.located = layout.virtual_index()
        else:
            self.located = np.empty(bits.shape[0], dtype=_IDX)
            self.located[layout.order] = layout.virtual_index()
        # Bob's parity of every tree node, built when the pass first needs a search.
        self.tree: NDArray[np.uint8] | None = None
        self.searching = np.zeros(layout.blocks, dtype=bool)
        self.s_block = np.zeros(0, dtype=_I64)
        self.s_node = np.zeros(0, dtype=_I64)
        self.s_lo = np.zeros(0, dtype=_I64)
        self.s_width = np.zeros(0, dtype=_I64)
        self.s_apar = np.zeros(0, dtype=np.uint8)
        if reuse:
            span = 2 * layout.padded
            self.known = np.zeros(layout.blocks * span, dtype=bool)
            self.kpar = np.zeros(layout.blocks * span, dtype=np.uint8)
            tops = np.arange(layout.blocks, dtype=_I64) * span + 1
            self.known[tops] = True
            self.kpar[tops] = alice_top
        else:
            self.known = np.zeros(0, dtype=bool)
            self.kpar = np.zeros(0, dtype=np.uint8)

    def keep(self, rows: NDArray[np.bool_]) -> None:
        """Keep only the open searches selected by `rows`."""
        self.s_block = self.s_block[rows]
        self.s_node = self.s_node[rows]
        self.s_lo = self.s_lo[rows]
        self.s_width = self.s_width[rows]
        self.s_apar = self.s_apar[rows]

    def build_tree(self, bits: NDArray[np.uint8]) -> NDArray[np.uint8]:
        """Bob's parity of every node of every block (heap layout, node id = block * 2K + h)."""
        layout = self.layout
        width = layout.padded
        tree = np.zeros((layout.blocks, 2 * width), dtype=np.uint8)
        leaves = np.zeros(layout.blocks * width, dtype=np.uint8)
        leaves[self.located] = bits
        tree[:, width:] = leaves.reshape(layout.blocks, width)
        level = width
        while level > 1:
            half = level // 2
            tree[:, half:level] = (
                tree[:, level : 2 * level : 2] ^ tree[:, level + 1 : 2 * level : 2]
            )
            level = half
        flat = tree.reshape(-1)
        self.tree = flat
        return flat

    def flip(self, positions: NDArray[np.int64]) -> None:
        """Bob flipped these key bits: update top parities and the node parities above them."""
        layout = self.layout
        where = self.located[positions].astype(_I64)
        block = where >> layout.depth
        np.bitwise_xor.at(self.bob_top, block, np.uint8(1))
        if self.tree is not None:
            leaf = (where & (layout.padded - 1)) + layout.padded
            levels = np.arange(layout.depth + 1, dtype=_I64)
            nodes = (block * 2 * layout.padded)[:, None] + (leaf[:, None] >> levels[None, :])
            np.bitwise_xor.at(self.tree, nodes.reshape(-1), np.uint8(1))


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
        first = top_parities[: layouts[0].blocks]
        frame_parity = [
            int(np.bitwise_xor.reduce(chunk)) if chunk.size else 0
            for chunk in np.split(first, np.cumsum(layouts[0].frame_blocks)[:-1])
        ]
        self._tops: list[NDArray[np.uint8]] = [first]
        offset = layouts[0].blocks
        for layout in layouts[1:]:
            tops = np.empty(layout.blocks, dtype=np.uint8)
            start = 0
            for frame, count in enumerate(layout.frame_blocks):
                shown = top_parities[offset : offset + count - 1]
                offset += count - 1
                tops[start : start + count - 1] = shown
                rest = int(np.bitwise_xor.reduce(shown)) if shown.size else 0
                tops[start + count - 1] = frame_parity[frame] ^ rest
                start += count
            self._tops.append(tops)
        self._reuse = reuse
        self._passes: list[_Pass] = []
        self._pending: list[tuple[int, NDArray[np.bool_], NDArray[np.uint8]]] | None = None
        self._flipped = np.zeros(bits.shape[0], dtype=bool)
        self.errors_corrected = 0
        self.queries = 0
        self.round_trips = 0

    # -- driving ------------------------------------------------------------------------------
    def next_queries(self) -> tuple[NDArray[np.uint8], NDArray[np.uint32]] | None:
        """The next batch of parity queries, or None when Cascade has finished."""
        if self._pending is not None:
            raise LocalProtocolError("replies to the previous queries are still outstanding")
        while True:
            if not any(p.s_block.shape[0] for p in self._passes) and not self._spawn_or_advance():
                return None
            pending = []
            q_pass: list[NDArray[np.uint8]] = []
            q_node: list[NDArray[np.uint32]] = []
            for index, state in enumerate(self._passes):
                if not state.s_block.shape[0]:
                    continue
                need, left_par = self._left_parities(state)
                pending.append((index, need, left_par))
                if need.any():
                    span = 2 * state.layout.padded
                    nodes = state.s_block[need] * span + 2 * state.s_node[need]
                    q_pass.append(np.full(nodes.shape[0], index, dtype=np.uint8))
                    q_node.append(nodes.astype(np.uint32))
            self._pending = pending
            if q_pass:
                passes = np.concatenate(q_pass)
                self.queries += int(passes.shape[0])
                self.round_trips += 1
                return passes, np.concatenate(q_node)
            self.apply_replies(np.zeros(0, dtype=np.uint8))

    def apply_replies(self, parities: NDArray[np.uint8]) -> None:
        """Feed Alice's answers to the last queries (in query order) and descend one level.

        Raises:
            CascadeQueryError: the parities are inconsistent (a bit located twice).
        """
        if self._pending is None:
            raise LocalProtocolError("no queries outstanding")
        pending, self._pending = self._pending, None
        expected = sum(int(need.sum()) for _, need, _ in pending)
        if parities.shape[0] != expected:
            raise LocalProtocolError("reply length does not match the queries")
        offset = 0
        flips: list[NDArray[np.int64]] = []
        for index, need, left_par in pending:
            count = int(need.sum())
            left_par[need] = parities[offset : offset + count]
            offset += count
            flips.append(self._descend(self._passes[index], left_par))
        found = np.unique(np.concatenate(flips)) if flips else np.zeros(0, dtype=_I64)
        if found.shape[0]:
            self._apply_flips(found)

    # -- internals ----------------------------------------------------------------------------
    def _spawn_or_advance(self) -> bool:
        """Open searches on odd blocks; start further passes until one has work. False: done."""
        while True:
            if self._spawn():
                return True
            if len(self._passes) == len(self._layouts):
                return False
            index = len(self._passes)
            self._passes.append(
                _Pass(self._layouts[index], self._tops[index], self.bits, self._reuse)
            )

    def _spawn(self) -> bool:
        spawned = False
        for state in self._passes:
            odd = np.flatnonzero((state.alice_top ^ state.bob_top).astype(bool) & ~state.searching)
            if odd.shape[0]:
                if state.tree is None:
                    state.build_tree(self.bits)
                state.searching[odd] = True
                state.s_block = np.concatenate((state.s_block, odd))
                count = odd.shape[0]
                state.s_node = np.concatenate((state.s_node, np.ones(count, dtype=_I64)))
                state.s_lo = np.concatenate((state.s_lo, np.zeros(count, dtype=_I64)))
                state.s_width = np.concatenate(
                    (state.s_width, np.full(count, state.layout.padded, dtype=_I64))
                )
                state.s_apar = np.concatenate((state.s_apar, state.alice_top[odd]))
                spawned = True
        return spawned or any(p.s_block.shape[0] for p in self._passes)

    def _left_parities(self, state: _Pass) -> tuple[NDArray[np.bool_], NDArray[np.uint8]]:
        """Alice's parity of each search's left child where Bob knows or can infer it."""
        layout = state.layout
        mid = state.s_lo + state.s_width // 2
        left_par = np.zeros(state.s_node.shape[0], dtype=np.uint8)
        # Right child entirely virtual: the left child carries the whole (odd) parity.
        free = mid >= layout.sizes[state.s_block]
        left_par[free] = state.s_apar[free]
        if self._reuse:
            span = 2 * layout.padded
            left = state.s_block * span + 2 * state.s_node
            known_left = state.known[left] & ~free
            left_par[known_left] = state.kpar[left[known_left]]
            known_right = state.known[left + 1] & ~free & ~known_left
            left_par[known_right] = state.s_apar[known_right] ^ state.kpar[left[known_right] + 1]
            need = ~(free | known_left | known_right)
        else:
            need = ~free
        return need, left_par

    def _descend(self, state: _Pass, left_par: NDArray[np.uint8]) -> NDArray[np.int64]:
        """Move every search of a pass one level down; return the key positions found."""
        layout = state.layout
        half = state.s_width // 2
        mid = state.s_lo + half
        span = 2 * layout.padded
        left = state.s_block * span + 2 * state.s_node
        tree = state.tree if state.tree is not None else state.build_tree(self.bits)
        go_left = (tree[left] ^ left_par).astype(bool)
        right_par = state.s_apar ^ left_par
        if self._reuse:
            state.known[left] = True
            state.known[left + 1] = True
            state.kpar[left] = left_par
            state.kpar[left + 1] = right_par
        go_right = ~go_left
        state.s_node = 2 * state.s_node + go_right
        state.s_lo = np.where(go_right, mid, state.s_lo)
        state.s_width = half
        state.s_apar = np.where(go_left, left_par, right_par)
        leaf = half == 1
        if not leaf.any():
            return np.zeros(0, dtype=_I64)
        position: NDArray[np.int64] = layout.starts[state.s_block[leaf]] + state.s_lo[leaf]
        if layout.order is not None:
            position = layout.order[position].astype(_I64)
        state.searching[state.s_block[leaf]] = False
        state.keep(~leaf)
        return position

    def _apply_flips(self, positions: NDArray[np.int64]) -> None:
        # With Alice's true parities every located bit is a real error, so none is found twice;
        # a repeat means forged or corrupted replies (and guarantees termination).
        if self._flipped[positions].any():
            raise CascadeQueryError("inconsistent parities: a bit was located twice")
        self._flipped[positions] = True
        self.bits[positions] ^= 1
        self.errors_corrected += int(positions.shape[0])
        for state in self._passes:
            state.flip(positions)
            if not state.s_block.shape[0] or state.tree is None:
                continue
            # A search whose range now holds an even number of errors (it gained an odd number
            # of flips) is dropped; its block is re-examined from the updated top parity.
            nodes = state.s_block * (2 * state.layout.padded) + state.s_node
            drop = state.tree[nodes] == state.s_apar
            if drop.any():
                state.searching[state.s_block[drop]] = False
                state.keep(~drop)
