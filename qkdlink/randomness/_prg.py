"""A seeded PRG that writes AES-256-CTR keystream straight into numpy arrays.

The keystream of AES-256 in counter mode (NIST SP 800-38A section 6.5) under a fresh key is
indistinguishable from random as long as AES is a PRP, for far more than any run here draws
(2^128 blocks per key before the 128-bit counter wraps). Every stream has its own key, derived
with `expand` from a seed and a label, and always starts at counter block 0: two streams with
different labels therefore never share a (key, counter) pair, and so never overlap.

Speed: zeros are encrypted chunk by chunk from one reused buffer (cache resident) into the output
array with `update_into`, so the only full-size write is the keystream itself. CTR is a stream
mode (OpenSSL block size 1), so `update_into` writes exactly len(input) bytes and needs no slack
after the output. `fill_difference` draws two streams tile by tile so that the subtraction of a
PRZS share reads both operands from cache.
"""

from __future__ import annotations

from typing import Final

import numpy as np
import numpy.typing as npt
from cryptography.hazmat.primitives.ciphers import Cipher, CipherContext, algorithms, modes

from qkdlink.errors import LocalProtocolError
from qkdlink.randomness._kdf import SEED_BYTES, encode_label, expand

__all__ = ["CHUNK_BYTES", "Prg"]

CHUNK_BYTES: Final = 1 << 18
"""Zeros encrypted per `update_into` call. A call costs under 1 us of Python and binding overhead
against about 50 us of AES-NI work at this size; a chunk plus a scratch tile (512 KiB) stays in a
2 MiB L2. Measured best of 64 KiB to 1 MiB, for raw keystream and for PRZS alike."""

_ZEROS: Final = bytes(CHUNK_BYTES)
_ZEROS_VIEW: Final = memoryview(_ZEROS)
_AES_BLOCK: Final = 16

UIntArray = npt.NDArray[np.unsignedinteger]


class Prg:
    """One AES-256-CTR stream, identified by (seed, label); successive draws continue it."""

    __slots__ = ("_encryptor", "_label")

    def __init__(self, seed: bytes, *label: str | bytes | int) -> None:
        if len(seed) != SEED_BYTES:
            raise LocalProtocolError("a PRG seed is exactly 32 bytes")
        self._label = label
        stream_key = expand(seed, encode_label("prg", *label))
        # The key is unique to this stream, so counter block 0 as the initial value is safe.
        self._encryptor: CipherContext = Cipher(
            algorithms.AES(stream_key), modes.CTR(bytes(_AES_BLOCK))
        ).encryptor()

    def __repr__(self) -> str:
        return f"Prg(label={self._label!r})"

    def fill(self, out: npt.NDArray[np.generic]) -> None:
        """Overwrite the C-contiguous array `out` with the next len(out.data) keystream bytes."""
        if not out.flags.c_contiguous or not out.flags.writeable:
            raise LocalProtocolError("the output array must be C-contiguous and writeable")
        self.fill_bytes(out.reshape(-1).view(np.uint8).data)

    def fill_bytes(self, view: memoryview) -> None:
        """Overwrite a writable 1-d byte memoryview with the next len(view) keystream bytes."""
        update_into = self._encryptor.update_into
        total = len(view)
        whole = total - total % CHUNK_BYTES
        for offset in range(0, whole, CHUNK_BYTES):
            update_into(_ZEROS, view[offset : offset + CHUNK_BYTES])
        if whole < total:
            update_into(_ZEROS_VIEW[: total - whole], view[whole:])

    def fill_difference(self, out: UIntArray, subtrahend: Prg) -> None:
        """Overwrite the C-contiguous unsigned array `out` with this stream minus `subtrahend`'s.

        The difference is taken elementwise in Z_2^bits of out's dtype, and both streams advance
        by out.nbytes, exactly as `fill` on each stream and then `out -= other` would. Tile by
        tile, this stream goes straight into `out` and the other into one scratch tile, and the
        tile is subtracted while both are still in L2: the only full-size memory traffic is one
        write of `out`.
        """
        if not out.flags.c_contiguous or not out.flags.writeable:
            raise LocalProtocolError("the output array must be C-contiguous and writeable")
        if subtrahend is self:
            raise LocalProtocolError("a stream minus itself is not a difference of two streams")
        flat = out.reshape(-1)
        data = flat.view(np.uint8).data
        tile_size = CHUNK_BYTES // flat.itemsize
        whole = flat.size - flat.size % tile_size
        scratch = np.empty(min(flat.size, tile_size), dtype=flat.dtype)
        scratch_bytes = scratch.view(np.uint8).data
        plus_into = self._encryptor.update_into
        minus_into = subtrahend._encryptor.update_into
        subtract = np.subtract
        tiles = flat[:whole].reshape(-1, tile_size)
        for offset, tile in zip(range(0, tiles.nbytes, CHUNK_BYTES), tiles, strict=True):
            plus_into(_ZEROS, data[offset : offset + CHUNK_BYTES])
            minus_into(_ZEROS, scratch_bytes)
            subtract(tile, scratch, out=tile)
        if whole < flat.size:
            tile = flat[whole:]
            rest = tile.nbytes
            plus_into(_ZEROS_VIEW[:rest], data[-rest:])
            minus_into(_ZEROS_VIEW[:rest], scratch_bytes[:rest])
            subtract(tile, scratch[: tile.size], out=tile)

    def fill_negated(self, out: UIntArray) -> None:
        """Overwrite the C-contiguous unsigned array `out` with the negated next keystream.

        The same as `fill` and then `np.negative(out, out=out)` (negation in Z_2^bits), but each
        tile is negated while still in L2: `out` is written to memory once, not written, read back
        and written again.
        """
        if not out.flags.c_contiguous or not out.flags.writeable:
            raise LocalProtocolError("the output array must be C-contiguous and writeable")
        flat = out.reshape(-1)
        data = flat.view(np.uint8).data
        tile_size = CHUNK_BYTES // flat.itemsize
        update_into = self._encryptor.update_into
        negative = np.negative
        for start in range(0, flat.size, tile_size):
            tile = flat[start : start + tile_size]
            offset = start * flat.itemsize
            update_into(_ZEROS_VIEW[: tile.nbytes], data[offset : offset + tile.nbytes])
            negative(tile, out=tile)

    def random_bytes(self, n: int) -> bytes:
        """The next `n` keystream bytes."""
        buf = bytearray(n)
        self.fill_bytes(memoryview(buf))
        return bytes(buf)

    def uint32(self, n: int) -> npt.NDArray[np.uint32]:
        """`n` uniform elements of Z_2^32."""
        out = np.empty(n, dtype=np.uint32)
        self.fill(out)
        return out

    def uint64(self, n: int) -> npt.NDArray[np.uint64]:
        """`n` uniform elements of Z_2^64."""
        out = np.empty(n, dtype=np.uint64)
        self.fill(out)
        return out

    def ring(self, n: int, bits: int) -> npt.NDArray[np.unsignedinteger]:
        """`n` uniform elements of Z_2^bits for bits in {32, 64}."""
        if bits == 32:
            return self.uint32(n)
        if bits == 64:
            return self.uint64(n)
        raise LocalProtocolError("ring bits must be 32 or 64")

    def field(self, n: int, modulus: int) -> npt.NDArray[np.uint64]:
        """`n` uniform elements of Z_p for a modulus 2 <= p < 2^63, by rejection sampling.

        Each candidate is a keystream word masked to bit_length(p) bits and accepted iff it is
        below p: an accepted value is exactly uniform on [0, p) (no modular bias), and at least
        half of the candidates are accepted, so the expected cost is under two words per element.
        """
        if not 2 <= modulus < 1 << 63:
            raise LocalProtocolError("field modulus must be in [2, 2^63)")
        mask = np.uint64((1 << modulus.bit_length()) - 1)
        p = np.uint64(modulus)
        out = np.empty(n, dtype=np.uint64)
        filled = 0
        while filled < n:
            need = n - filled
            # Draw a little more than twice the shortfall so one round almost always suffices.
            candidates = self.uint64(need * 2 + 64)
            candidates &= mask
            accepted = candidates[candidates < p][:need]
            out[filled : filled + accepted.size] = accepted
            filled += accepted.size
        return out
