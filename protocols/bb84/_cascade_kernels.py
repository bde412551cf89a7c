# numba types these functions itself (at compile time); `_cascade` is the typed boundary.
# mypy: disable-error-code="no-untyped-def,no-untyped-call,no-any-return"
# mypy: disable-error-code="assignment,unreachable,has-type"
"""Compiled loops behind `_cascade`: range parities, Alice's answers and Bob's search levels.

The algorithm and its sources (Brassard-Salvail 1994; Martinez-Mateo et al. 2015) are in
`_cascade`'s docstring; the tables' fields are named below. Keys and masks are packed 64 bits
to a word, most significant bit first (bit i of a key is bit 63 - i % 64 of word i // 64), so
that public masks drawn as bytes (`np.packbits` order) read as big-endian words. The public
randomness replays numpy's SeedSequence and PCG64 (O'Neill 2014, cited below).

Importing this module imports numba (nothing is compiled until the first call; compiled code is
cached on disk). Without numba the same functions run as plain Python: correct, but slow.
"""

from typing import Any

import numpy as np

from protocols.bb84._jit import kernel as _compile
from protocols.bb84._jit import numba


def _jit(function: Any) -> Any:
    """A kernel that allocates nothing: compiled without numba's reference counting (`_nrt`),
    whose increments and decrements on every array handed to an inlined helper cost several
    times the helper's own work in the hot loops."""
    return _compile(cache=True, nogil=True, _nrt=False)(function)


def _jit_allocating(function: Any) -> Any:
    return _compile(cache=True, nogil=True)(function)


def _inline(function: Any) -> Any:
    return _compile(cache=True, inline="always")(function)


# Columns of the per-block table `blk` (one row per global block, int64).
B_LOCAL = 0  # node offset of the block inside its pass (block * 2K, as sent on the wire)
B_SIZE = 1  # real bits
B_START = 2  # offset in pass order (identity and ordered passes)
B_PASS = 3
B_KNOWN = 4  # first entry of the block in the known-parity table (K entries per block)
B_FS = 5  # halves: key position of the first bit of the block's frame
B_FE = 6  # halves: key position past the frame
B_HALF = 7  # halves: 1 if the block holds the bits whose mask bit is 1
B_RANK = 8  # halves: rank of the frame's start among the bits of the block's half
B_FIELDS = 9

# Rows of the per-pass table `pas` (one column per pass, int64).
P_KIND = 0  # 0: identity order, 1: ordered (order array), 2: random halves (mask)
P_DEPTH = 1
P_FIRST = 2  # first global block
P_BLOCKS = 3
P_ROW = 4  # ordered: row in the pass-order key tables; halves: row in the mask tables
P_FIELDS = 5

# Columns of Bob's search table (one row per open search, int64).
R_GB = 0
R_NODE = 1  # heap node h of the block (1 = the block)
R_LO = 2
R_WIDTH = 3
R_APAR = 4  # Alice's parity of the node
R_NEED = 5  # this level's left-child parity is asked of Alice
R_LEFT = 6  # Alice's parity of this level's left child (known, inferred or replied)
R_DROP = 7  # flips inside the search's range this level, mod 2
R_FIELDS = 8

# Bob's scalar state `ctl` (int64).
C_ROWS = 0  # open searches
C_STARTED = 1  # passes started
C_END = 2  # global blocks of the started passes
C_PENDING = 3  # a level's queries are out: the next call applies the replies first
C_ERRORS = 4  # errors corrected
C_FIELDS = 5

_ALL = np.uint64(0xFFFFFFFFFFFFFFFF)
_ONE = np.uint64(1)
_M1 = np.uint64(0x5555555555555555)
_M2 = np.uint64(0x3333333333333333)
_M4 = np.uint64(0x0F0F0F0F0F0F0F0F)
_H01 = np.uint64(0x0101010101010101)
_PARITY_NIBBLE = np.uint64(0x6996)


@_inline
def _popcount(v):
    v = v - ((v >> np.uint64(1)) & _M1)
    v = (v & _M2) + ((v >> np.uint64(2)) & _M2)
    v = (v + (v >> np.uint64(4))) & _M4
    return np.int64((v * _H01) >> np.uint64(56))


@_inline
def _parity(v):
    v ^= v >> np.uint64(32)
    v ^= v >> np.uint64(16)
    v ^= v >> np.uint64(8)
    v ^= v >> np.uint64(4)
    return np.int64((_PARITY_NIBBLE >> (v & np.uint64(15))) & _ONE)


@_inline
def _bit_length(v):
    """Bits needed for v >= 0 (0 for 0)."""
    u = np.uint64(v)
    u |= u >> np.uint64(1)
    u |= u >> np.uint64(2)
    u |= u >> np.uint64(4)
    u |= u >> np.uint64(8)
    u |= u >> np.uint64(16)
    u |= u >> np.uint64(32)
    return _popcount(u)


@_inline
def _bit(words, row, i):
    return np.int64((words[row, i >> 6] >> np.uint64(63 - (i & 63))) & _ONE)


@_inline
def _toggle(words, row, i):
    words[row, i >> 6] ^= _ONE << np.uint64(63 - (i & 63))


@_inline
def _plain_parity(words, row, a, b):
    """Parity of bits a .. b-1 (a < b) of row `row` of `words`."""
    wa = a >> 6
    wb = (b - 1) >> 6
    first = _ALL >> np.uint64(a & 63)
    last = _ALL << np.uint64(63 - ((b - 1) & 63))
    if wa == wb:
        return _parity(words[row, wa] & first & last)
    acc = words[row, wa] & first
    for w in range(wa + 1, wb):
        acc ^= words[row, w]
    return _parity(acc ^ (words[row, wb] & last))


@_inline
def _masked_parity(words, masks, mask_row, flip, a, b):
    """Parity of bits a .. b-1 (a < b) of the key (row 0 of `words`) where the mask row,
    XORed with `flip`, has ones."""
    wa = a >> 6
    wb = (b - 1) >> 6
    first = _ALL >> np.uint64(a & 63)
    last = _ALL << np.uint64(63 - ((b - 1) & 63))
    if wa == wb:
        return _parity(words[0, wa] & (masks[mask_row, wa] ^ flip) & first & last)
    acc = words[0, wa] & (masks[mask_row, wa] ^ flip) & first
    for w in range(wa + 1, wb):
        acc ^= words[0, w] & (masks[mask_row, w] ^ flip)
    return _parity(acc ^ (words[0, wb] & (masks[mask_row, wb] ^ flip) & last))


@_inline
def _rank(masks, ones, mask_row, half, x):
    """Bits of the given half (mask bit 0 or 1) before position x of the mask row."""
    w = x >> 6
    before = ones[mask_row, w] + _popcount(masks[mask_row, w] & ~(_ALL >> np.uint64(x & 63)))
    return before if half else x - before


@_inline
def _select(masks, ones, mask_row, half, target, lo_word, hi_word):
    """Position of the bit of the given half with rank `target`, within words lo .. hi."""
    lo, hi = lo_word, hi_word
    while lo < hi:  # last word whose start has rank <= target
        mid = (lo + hi + 1) >> 1
        start = ones[mask_row, mid] if half else 64 * mid - ones[mask_row, mid]
        if start <= target:
            lo = mid
        else:
            hi = mid - 1
    start = ones[mask_row, lo] if half else 64 * lo - ones[mask_row, lo]
    v = masks[mask_row, lo] if half else ~masks[mask_row, lo]
    k = target - start
    base = 0
    for _ in range(8):  # whole bytes first
        count = _popcount(v >> np.uint64(56))
        if k < count:
            break
        k -= count
        v <<= np.uint64(8)
        base += 8
    for j in range(8):
        if (v >> np.uint64(63 - j)) & _ONE:
            if k == 0:
                return 64 * lo + base + j
            k -= 1
    return 64 * lo + 64  # unreachable for a target inside the frame


@_inline
def _halves_parity(gb, lo, hi, size, blk, words, masks, ones, row):
    """`_range_parity` in a pass of random halves."""
    half = blk[gb, B_HALF]
    fs = blk[gb, B_FS]
    fe = blk[gb, B_FE]
    first = blk[gb, B_RANK]
    words_lo, words_hi = fs >> 6, (fe - 1) >> 6
    a = fs if lo == 0 else _select(masks, ones, row, half, first + lo, words_lo, words_hi)
    b = fe if hi == size else _select(masks, ones, row, half, first + hi, words_lo, words_hi)
    return _masked_parity(words, masks, row, np.uint64(0) if half else _ALL, a, b)


@_inline
def _range_parity(gb, lo, hi, blk, pas, words, masks, ones):
    """Parity of [lo, hi) of global block gb (block-relative; virtual bits are 0) over a key:
    row 0 of `words` in key order, the other rows its copies in the order of a pass."""
    size = blk[gb, B_SIZE]
    lo = min(lo, size)
    hi = min(hi, size)
    if lo >= hi:
        return 0
    p = blk[gb, B_PASS]
    row = pas[P_ROW, p]
    if pas[P_KIND, p] != 2:
        start = blk[gb, B_START]
        return _plain_parity(words, row, start + lo, start + hi)
    return _halves_parity(gb, lo, hi, size, blk, words, masks, ones, row)


@_jit
def gather(orders, q, words, row, inverse, with_inverse):
    """Row `row` of `words` = the key (row 0) in the order orders[q], packed (whole words are
    written); with_inverse: inverse[q] = the pass position of every key position."""
    n = orders.shape[1]
    for w in range((n + 63) >> 6):
        first = w << 6
        acc = np.uint64(0)
        for j in range(min(64, n - first)):
            x = np.int64(orders[q, first + j])
            acc |= ((words[0, x >> 6] >> np.uint64(63 - (x & 63))) & _ONE) << np.uint64(63 - j)
            if with_inverse:
                inverse[q, x] = first + j
        words[row, w] = acc


@_jit
def block_parities(first, last, blk, pas, words, masks, ones, out):
    """Parity of every global block first .. last-1 (into out[first:last])."""
    for gb in range(first, last):
        out[gb] = _range_parity(gb, 0, blk[gb, B_SIZE], blk, pas, words, masks, ones)


@_jit
def answer(passes, nodes, blk, pas, words, masks, ones, out):
    """Alice's parity of each (pass, node); 0 on success, 1: no such pass, 2: no such node."""
    count = passes.shape[0]
    total = pas.shape[1]
    for i in range(count):
        if np.int64(passes[i]) >= total:
            return 1
    for i in range(count):
        p = np.int64(passes[i])
        depth = pas[P_DEPTH, p]
        span = depth + 1
        node = np.int64(nodes[i])
        block = node >> span
        local = node - (block << span)
        if block >= pas[P_BLOCKS, p] or local == 0:
            return 2  # (the caller discards `out` on any error)
        level = _bit_length(local) - 1
        full = np.int64(1) << depth
        width = full >> level
        lo = local * width - full
        out[i] = _range_parity(
            pas[P_FIRST, p] + block, lo, lo + width, blk, pas, words, masks, ones
        )
    return 0


@_inline
def _known_get(known, index):
    return np.int64((known[index >> 2] >> np.uint8(2 * (index & 3))) & np.uint8(3))


@_inline
def _known_set(known, index, value):
    shift = np.uint8(2 * (index & 3))
    cell = known[index >> 2] & ~(np.uint8(3) << shift)
    known[index >> 2] = cell | (np.uint8(value) << shift)


@_inline
def _locate(p, x, frame, pas, blk, frame_start, pf, inverse, masks, ones):
    """Global block of key position x (in frame `frame`) in pass p, and its offset there."""
    kind = pas[P_KIND, p]
    row = pas[P_ROW, p]
    if kind == 2:
        half = np.int64((masks[row, x >> 6] >> np.uint64(63 - (x & 63))) & _ONE)
        gb = pf[0, p, frame]
        if pf[2, p, frame] == 2:
            gb += half
        return gb, _rank(masks, ones, row, half, x) - blk[gb, B_RANK]
    at = x if kind == 0 else np.int64(inverse[row - 1, x])
    gb = pf[0, p, frame] + (at - frame_start[frame]) // pf[1, p, frame]
    return gb, at - blk[gb, B_START]


@_jit
def bob_step(
    replies,
    ctl,
    rows,
    row_of,
    blk,
    pas,
    frame_start,
    pf,
    odd,
    alice_top,
    known,
    bits,
    flipped,
    words,
    orders,
    inverse,
    masks,
    ones,
    found,
    out_passes,
    out_nodes,
):
    """Apply the replies to the pending level (if any), then open searches on odd blocks when
    none is open and compute the next level's queries.

    Returns the number of queries written to out_passes/out_nodes (> 0), -1 when no search is
    open and no block of a started pass is odd, -2 when a located bit was located before.
    """
    reuse = known.shape[0] > 0
    while True:
        count = ctl[C_ROWS]
        if ctl[C_PENDING]:
            ctl[C_PENDING] = 0
            # One pass over the searches: replies in, Bob's left parities (all before any
            # flip of this level), descend, leaves out (the others keep their order).
            j = 0
            kept = 0
            found_count = 0
            for r in range(count):
                gb = np.int64(rows[r, R_GB])
                node = np.int64(rows[r, R_NODE])
                lo = np.int64(rows[r, R_LO])
                half = np.int64(rows[r, R_WIDTH]) >> 1
                apar = np.int64(rows[r, R_APAR])
                left = np.int64(rows[r, R_LEFT])
                if rows[r, R_NEED]:
                    left = np.int64(replies[j])
                    j += 1
                if reuse:
                    _known_set(known, blk[gb, B_KNOWN] + node, left | 2)
                mine = _range_parity(gb, lo, lo + half, blk, pas, words, masks, ones)
                if mine == left:  # the odd error count is in the right child
                    lo += half
                    node = 2 * node + 1
                    apar ^= left
                else:
                    node = 2 * node
                    apar = left
                if half > 1:
                    rows[kept, R_GB] = gb
                    rows[kept, R_NODE] = node
                    rows[kept, R_LO] = lo
                    rows[kept, R_WIDTH] = half
                    rows[kept, R_APAR] = apar
                    rows[kept, R_DROP] = 0
                    row_of[gb] = kept
                    kept += 1
                    continue
                p = blk[gb, B_PASS]
                kind = pas[P_KIND, p]
                if kind == 0:
                    x = blk[gb, B_START] + lo
                elif kind == 1:
                    x = np.int64(orders[pas[P_ROW, p] - 1, blk[gb, B_START] + lo])
                else:
                    x = _select(
                        masks,
                        ones,
                        pas[P_ROW, p],
                        blk[gb, B_HALF],
                        blk[gb, B_RANK] + lo,
                        blk[gb, B_FS] >> 6,
                        (blk[gb, B_FE] - 1) >> 6,
                    )
                found[found_count] = x
                found_count += 1
                row_of[gb] = -1
            count = kept
            ctl[C_ROWS] = count
            if found_count:
                for i in range(found_count):
                    if (flipped[found[i] >> 6] >> np.uint64(found[i] & 63)) & _ONE:
                        return -2
                started = ctl[C_STARTED]
                frames = frame_start.shape[0] - 1
                flips = 0
                dropped = 0
                for i in range(found_count):
                    x = found[i]
                    if (flipped[x >> 6] >> np.uint64(x & 63)) & _ONE:  # twice in this level
                        continue
                    flips += 1
                    flipped[x >> 6] |= _ONE << np.uint64(x & 63)
                    bits[x] ^= 1
                    _toggle(words, 0, x)
                    lo_f, hi_f = 0, frames - 1
                    while lo_f < hi_f:
                        mid_f = (lo_f + hi_f + 1) >> 1
                        if frame_start[mid_f] <= x:
                            lo_f = mid_f
                        else:
                            hi_f = mid_f - 1
                    frame = lo_f
                    for p in range(started):
                        gb, offset = _locate(
                            p, x, frame, pas, blk, frame_start, pf, inverse, masks, ones
                        )
                        row = pas[P_ROW, p]
                        if pas[P_KIND, p] == 1:
                            _toggle(words, row, np.int64(inverse[row - 1, x]))
                        odd[gb >> 6] ^= _ONE << np.uint64(gb & 63)
                        r = row_of[gb]
                        if r >= 0 and rows[r, R_LO] <= offset < rows[r, R_LO] + rows[r, R_WIDTH]:
                            rows[r, R_DROP] ^= 1
                            dropped += 1
                ctl[C_ERRORS] += flips
                # A search whose range gained an odd number of flips now holds an even number
                # of errors: it is dropped (its block is re-examined from its top parity).
                kept = 0 if dropped else count
                for r in range(kept, count):
                    if rows[r, R_DROP]:
                        row_of[rows[r, R_GB]] = -1
                        continue
                    if kept != r:
                        for field in range(R_FIELDS):
                            rows[kept, field] = rows[r, field]
                        row_of[rows[kept, R_GB]] = kept
                    kept += 1
                count = kept
                ctl[C_ROWS] = count
        if count == 0:
            # A new wave: every odd block of the started passes, in global block order.
            for w in range((ctl[C_END] + 63) >> 6):
                bits_left = odd[w]
                while bits_left:
                    lowest = bits_left & (~bits_left + _ONE)
                    bits_left ^= lowest
                    gb = 64 * w + _popcount(lowest - _ONE)
                    p = blk[gb, B_PASS]
                    rows[count, R_GB] = gb
                    rows[count, R_NODE] = 1
                    rows[count, R_LO] = 0
                    rows[count, R_WIDTH] = np.int64(1) << pas[P_DEPTH, p]
                    rows[count, R_APAR] = alice_top[gb]
                    rows[count, R_DROP] = 0
                    row_of[gb] = count
                    count += 1
            ctl[C_ROWS] = count
            if count == 0:
                return -1
        asked = 0
        for r in range(count):
            gb = rows[r, R_GB]
            node = rows[r, R_NODE]
            mid = rows[r, R_LO] + (rows[r, R_WIDTH] >> 1)
            need = 0
            if mid >= blk[gb, B_SIZE]:
                # Right child entirely virtual: the left child carries the whole parity.
                rows[r, R_LEFT] = rows[r, R_APAR]
            elif reuse:
                state = _known_get(known, blk[gb, B_KNOWN] + node)
                rows[r, R_LEFT] = state & 1
                need = 1 if state < 2 else 0
            else:
                rows[r, R_LEFT] = rows[r, R_APAR]
                need = 1
            rows[r, R_NEED] = need
            if need:
                p = blk[gb, B_PASS]
                out_passes[asked] = p
                out_nodes[asked] = blk[gb, B_LOCAL] + 2 * node
                asked += 1
        ctl[C_PENDING] = 1
        if asked:
            return asked


@_jit
def start_pass(p, ctl, blk, pas, odd, alice_top, words, orders, inverse, masks, ones):
    """Set up pass p on Bob's side from his key as it is now: its pass-order copy and the
    inverse of its order (ordered passes), and the odd blocks (bit gb % 64 of word gb // 64
    of `odd`)."""
    row = pas[P_ROW, p]
    if pas[P_KIND, p] == 1:
        gather(orders, row - 1, words, row, inverse, True)
    first = pas[P_FIRST, p]
    for gb in range(first, first + pas[P_BLOCKS, p]):
        mine = _range_parity(gb, 0, blk[gb, B_SIZE], blk, pas, words, masks, ones)
        if mine ^ alice_top[gb]:
            odd[gb >> 6] |= _ONE << np.uint64(gb & 63)
    ctl[C_STARTED] = p + 1
    ctl[C_END] = first + pas[P_BLOCKS, p]


# PCG64 (O'Neill, "PCG: a family of simple fast space-efficient statistically good algorithms
# for random number generation", HMC-CS-2014-0905): 128-bit LCG, XSL-RR output, as numpy's.
_PCG_MULT_HI = np.uint64(0x2360ED051FC65DA4)
_PCG_MULT_LO = np.uint64(0x4385DF649FCCF645)
_LOW32 = np.uint64(0xFFFFFFFF)


@_inline
def _lcg_split(state_hi, state_lo, mult_hi, mult_lo, inc_hi, inc_lo):
    """state * mult + inc (mod 2^128) on 64-bit halves (plain Python, no numba)."""
    a0, a1 = state_lo & _LOW32, state_lo >> np.uint64(32)
    b0, b1 = mult_lo & _LOW32, mult_lo >> np.uint64(32)
    p01 = a0 * b1
    p10 = a1 * b0
    mid = ((a0 * b0) >> np.uint64(32)) + (p01 & _LOW32) + (p10 & _LOW32)
    carry = a1 * b1 + (p01 >> np.uint64(32)) + (p10 >> np.uint64(32)) + (mid >> np.uint64(32))
    high = state_hi * mult_lo + state_lo * mult_hi + carry
    low = state_lo * mult_lo + inc_lo
    return high + inc_hi + (np.uint64(1) if low < inc_lo else np.uint64(0)), low


@_inline
def _pcg_step_split(state_hi, state_lo, inc_hi, inc_lo):
    """state * multiplier + inc (mod 2^128) on 64-bit halves (plain Python, no numba)."""
    return _lcg_split(state_hi, state_lo, _PCG_MULT_HI, _PCG_MULT_LO, inc_hi, inc_lo)


if numba is None:  # pragma: no cover
    _pcg_step = _pcg_step_split
    _lcg = _lcg_split
else:
    from llvmlite import ir
    from numba import types
    from numba.extending import intrinsic

    def _wide(builder, high, low):
        """The 128-bit integer high:low."""
        wide = ir.IntType(128)
        shifted = builder.shl(builder.zext(high, wide), ir.Constant(wide, 64))
        return builder.or_(shifted, builder.zext(low, wide))

    def _halves(context, builder, signature, value):
        """(high, low) 64-bit halves of a 128-bit integer, as a numba tuple."""
        low = builder.trunc(value, ir.IntType(64))
        high = builder.trunc(builder.lshr(value, ir.Constant(value.type, 64)), ir.IntType(64))
        return context.make_tuple(builder, signature.return_type, [high, low])

    @intrinsic
    def _pcg_step(typingctx, state_hi, state_lo, inc_hi, inc_lo):
        """state * multiplier + inc (mod 2^128) as one LLVM i128 multiply-add."""
        word = types.uint64
        signature = types.UniTuple(word, 2)(word, word, word, word)

        def codegen(context, builder, sig, args):
            wide = ir.IntType(128)
            multiplier = ir.Constant(wide, (int(_PCG_MULT_HI) << 64) | int(_PCG_MULT_LO))
            product = builder.mul(_wide(builder, *args[:2]), multiplier)
            return _halves(context, builder, sig, builder.add(product, _wide(builder, *args[2:])))

        return signature, codegen

    @intrinsic
    def _lcg(typingctx, state_hi, state_lo, mult_hi, mult_lo, inc_hi, inc_lo):
        """state * mult + inc (mod 2^128) as one LLVM i128 multiply-add."""
        word = types.uint64
        signature = types.UniTuple(word, 2)(word, word, word, word, word, word)

        def codegen(context, builder, sig, args):
            product = builder.mul(_wide(builder, *args[:2]), _wide(builder, *args[2:4]))
            return _halves(context, builder, sig, builder.add(product, _wide(builder, *args[4:])))

        return signature, codegen


@_inline
def _output(state_hi, state_lo):
    """PCG64's XSL-RR output of a state."""
    mixed = state_hi ^ state_lo
    turn = state_hi >> np.uint64(58)
    return (mixed >> turn) | (mixed << ((np.uint64(64) - turn) & np.uint64(63)))


# Four interleaved streams: lane l holds the states l+1, l+5, l+9, ... after the start, each
# advanced by the jump state -> a^4 state + inc (1 + a + a^2 + a^3) (mod 2^128), so the four
# 128-bit multiply chains run side by side instead of one after the other.
_MULT4 = pow((int(_PCG_MULT_HI) << 64) | int(_PCG_MULT_LO), 4, 1 << 128)
_MULT4_HI = np.uint64(_MULT4 >> 64)
_MULT4_LO = np.uint64(_MULT4 & 0xFFFFFFFFFFFFFFFF)
_GEOM4 = sum(pow((int(_PCG_MULT_HI) << 64) | int(_PCG_MULT_LO), k, 1 << 128) for k in range(4))
_GEOM4 &= (1 << 128) - 1
_GEOM4_HI = np.uint64(_GEOM4 >> 64)
_GEOM4_LO = np.uint64(_GEOM4 & 0xFFFFFFFFFFFFFFFF)
_DRAWS = 4096
"""PCG64 outputs computed ahead at a time by `_shuffle` (a multiple of 4)."""


@_inline
def _shuffle(out, offset, state_hi, state_lo, inc_hi, inc_lo, draws, picks):
    """out = offset + numpy's `Generator(PCG64).permutation(len(out))` from the given fresh
    state: Fisher-Yates from the top, each index drawn by numpy's `random_interval` (masked
    rejection on 32-bit halves of the 64-bit outputs, low half first).

    The outputs are computed ahead into `draws` (four interleaved streams); then, per buffer,
    a branch-free loop picks the accepted indices into `picks` (a rejected draw is overwritten
    by the next one) and a second loop does their swaps."""
    n = out.shape[0]
    for i in range(n):
        out[i] = offset + i
    if n < 2:
        return
    jump_hi, jump_lo = _lcg(inc_hi, inc_lo, _GEOM4_HI, _GEOM4_LO, np.uint64(0), np.uint64(0))
    s0h, s0l = _pcg_step(state_hi, state_lo, inc_hi, inc_lo)
    s1h, s1l = _pcg_step(s0h, s0l, inc_hi, inc_lo)
    s2h, s2l = _pcg_step(s1h, s1l, inc_hi, inc_lo)
    s3h, s3l = _pcg_step(s2h, s2l, inc_hi, inc_lo)
    i = np.int64(n - 1)
    mask = _LOW32  # the smallest 2^k - 1 >= i
    while (mask >> _ONE) >= np.uint64(i):
        mask >>= _ONE
    while i > 0:
        for k in range(0, _DRAWS, 4):
            draws[k] = _output(s0h, s0l)
            draws[k + 1] = _output(s1h, s1l)
            draws[k + 2] = _output(s2h, s2l)
            draws[k + 3] = _output(s3h, s3l)
            s0h, s0l = _lcg(s0h, s0l, _MULT4_HI, _MULT4_LO, jump_hi, jump_lo)
            s1h, s1l = _lcg(s1h, s1l, _MULT4_HI, _MULT4_LO, jump_hi, jump_lo)
            s2h, s2l = _lcg(s2h, s2l, _MULT4_HI, _MULT4_LO, jump_hi, jump_lo)
            s3h, s3l = _lcg(s3h, s3l, _MULT4_HI, _MULT4_LO, jump_hi, jump_lo)
        # The accepted indices first (a short dependency chain through i), then the swaps.
        top = i
        m = 0
        for t in range(2 * _DRAWS):
            value = (draws[t >> 1] >> np.uint64((t & 1) << 5)) & mask
            accepted = value <= np.uint64(i)
            picks[m] = np.int64(value)
            m += np.int64(accepted)
            i -= np.int64(accepted)
            if (mask >> _ONE) >= np.uint64(i):
                mask >>= _ONE
            if i == 0:
                break
        for k in range(m):
            at = top - k
            j = picks[k]
            held = out[at]
            out[at] = out[j]
            out[j] = held


# numpy's SeedSequence (O'Neill's seed_seq design, numpy/random/bit_generator.pyx): constants.
_M32 = np.uint64(0xFFFFFFFF)
_INIT_A = np.uint64(0x43B0D7E5)
_MULT_A = np.uint64(0x931E8875)
_INIT_B = np.uint64(0x8B51F9DD)
_MULT_B = np.uint64(0x58F38DED)
_MIX_L = np.uint64(0xCA01F9DD)
_MIX_R = np.uint64(0x4973F715)


@_inline
def _mix(x, y):
    result = (_MIX_L * x - _MIX_R * y) & _M32
    return result ^ (result >> np.uint64(16))


@_inline
def _seeded(seed_words, index, frame):
    """The state of `numpy.random.default_rng([seed, index, frame])` (PCG64 seeded through
    SeedSequence) as (state_hi, state_lo, inc_hi, inc_lo); `seed_words`: the 32-bit words of
    the seed integer, least significant first, as SeedSequence splits it."""
    count = seed_words.shape[0] + 2
    entropy = np.empty(count, dtype=np.uint64)
    entropy[: count - 2] = seed_words
    entropy[count - 2] = np.uint64(index)
    entropy[count - 1] = np.uint64(frame)
    pool = np.zeros(4, dtype=np.uint64)
    hashed = _INIT_A
    for i in range(4):
        value = entropy[i] if i < count else np.uint64(0)
        value ^= hashed
        hashed = (hashed * _MULT_A) & _M32
        value = (value * hashed) & _M32
        pool[i] = value ^ (value >> np.uint64(16))
    for source in range(4):
        for target in range(4):
            if source != target:
                value = pool[source] ^ hashed
                hashed = (hashed * _MULT_A) & _M32
                value = (value * hashed) & _M32
                pool[target] = _mix(pool[target], value ^ (value >> np.uint64(16)))
    for source in range(4, count):
        for target in range(4):
            value = entropy[source] ^ hashed
            hashed = (hashed * _MULT_A) & _M32
            value = (value * hashed) & _M32
            pool[target] = _mix(pool[target], value ^ (value >> np.uint64(16)))
    words = np.zeros(8, dtype=np.uint64)
    hashed = _INIT_B
    for i in range(8):
        value = pool[i % 4] ^ hashed
        hashed = (hashed * _MULT_B) & _M32
        value = (value * hashed) & _M32
        words[i] = value ^ (value >> np.uint64(16))
    seed_hi = words[0] | (words[1] << np.uint64(32))
    seed_lo = words[2] | (words[3] << np.uint64(32))
    seq_hi = words[4] | (words[5] << np.uint64(32))
    seq_lo = words[6] | (words[7] << np.uint64(32))
    # PCG's srandom: inc = 2 seq + 1; state = 0; step; state += seed; step.
    inc_hi = (seq_hi << np.uint64(1)) | (seq_lo >> np.uint64(63))
    inc_lo = (seq_lo << np.uint64(1)) | _ONE
    state_hi, state_lo = _pcg_step(np.uint64(0), np.uint64(0), inc_hi, inc_lo)
    low = state_lo + seed_lo
    state_hi = state_hi + seed_hi + (_ONE if low < seed_lo else np.uint64(0))
    state_hi, state_lo = _pcg_step(state_hi, low, inc_hi, inc_lo)
    return state_hi, state_lo, inc_hi, inc_lo


@_jit_allocating
def frame_permutation(out, offset, seed_words, index, frame):
    """out = offset + default_rng([seed, index, frame]).permutation(len(out))."""
    state_hi, state_lo, inc_hi, inc_lo = _seeded(seed_words, index, frame)
    draws = np.empty(_DRAWS, dtype=np.uint64)
    picks = np.empty(2 * _DRAWS, dtype=np.int64)
    _shuffle(out, offset, state_hi, state_lo, inc_hi, inc_lo, draws, picks)


@_jit_allocating
def frame_bytes(out, seed_words, index, frame):
    """out = default_rng([seed, index, frame]).bytes(len(out)): the 64-bit outputs, little
    endian (numpy draws them as pairs of 32-bit halves, low half first)."""
    state_hi, state_lo, inc_hi, inc_lo = _seeded(seed_words, index, frame)
    for i in range(0, out.shape[0], 8):
        state_hi, state_lo = _pcg_step(state_hi, state_lo, inc_hi, inc_lo)
        word = _output(state_hi, state_lo)
        for j in range(min(8, out.shape[0] - i)):
            out[i + j] = np.uint8((word >> np.uint64(8 * j)) & np.uint64(0xFF))


@_jit_allocating
def pass_permutations(order, frame_sizes, seed_words, index, first_frame):
    """Every frame's permutation (`frame_permutation`), frame after frame, into one order."""
    offset = 0
    draws = np.empty(_DRAWS, dtype=np.uint64)
    picks = np.empty(2 * _DRAWS, dtype=np.int64)
    for frame in range(frame_sizes.shape[0]):
        n = frame_sizes[frame]
        state_hi, state_lo, inc_hi, inc_lo = _seeded(seed_words, index, first_frame + frame)
        _shuffle(
            order[offset : offset + n], offset, state_hi, state_lo, inc_hi, inc_lo, draws, picks
        )
        offset += n


@_inline
def _byteswap(v):
    v = ((v & np.uint64(0x00FF00FF00FF00FF)) << np.uint64(8)) | (
        (v >> np.uint64(8)) & np.uint64(0x00FF00FF00FF00FF)
    )
    v = ((v & np.uint64(0x0000FFFF0000FFFF)) << np.uint64(16)) | (
        (v >> np.uint64(16)) & np.uint64(0x0000FFFF0000FFFF)
    )
    return (v << np.uint64(32)) | (v >> np.uint64(32))


@_jit_allocating
def pass_halves(packed, frame_sizes, seed_words, index, first_frame, zeros):
    """Every frame's random mask (`frame_bytes` read as bits, most significant first; bits past
    the frame cleared) ORed into the words `packed` at the frame's bit offset; zeros[f]: the
    frame's mask bits that are 0."""
    offset = 0
    for frame in range(frame_sizes.shape[0]):
        n = frame_sizes[frame]
        state_hi, state_lo, inc_hi, inc_lo = _seeded(seed_words, index, first_frame + frame)
        count = (n + 63) >> 6
        ones = 0
        shift = np.uint64(offset & 63)
        for k in range(count):
            state_hi, state_lo = _pcg_step(state_hi, state_lo, inc_hi, inc_lo)
            # Little-endian output bytes, each read most significant bit first.
            stream = _byteswap(_output(state_hi, state_lo))
            if k == count - 1 and n & 63:
                stream &= _ALL << np.uint64(64 - (n & 63))
            ones += _popcount(stream)
            w = (offset >> 6) + k
            packed[w] |= stream >> shift
            if shift:
                packed[w + 1] |= stream << (np.uint64(64) - shift)
        zeros[frame] = n - ones
        offset += n
