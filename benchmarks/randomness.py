"""`randomness`: PRZS and replicated-sharing streams into numpy beside raw AES-256-CTR keystream.

The baseline is the fastest raw keystream we know how to make with `cryptography`: zeros
encrypted with `update_into` straight into a preallocated numpy buffer (the candidates' output
allocator and huge-page advice; a bytearray measured 5-10% slower), in chunks of `_RAW_CHUNK`
(256 KiB: the fastest of 64 KiB to 1 MiB within noise, 64 KiB about 5% slower;
encrypting into a cached scratch and copying out is slower still). It is measured alternately
with each candidate in the same run, in CPU seconds of this process (the targets are per core;
wall time on a shared machine mostly measures the other tenants). Throughput counts output
bytes: a PRZS share of n uint64 values is 8n bytes although it costs two keystreams (one per
ring neighbour); a replicated pair is 16n.

Raw keystream written to a large buffer is slower than the cipher alone (every output cache
line goes to memory), while PRZS writes only one of its two streams to memory and keeps the
other in a cache-resident tile. So the PRZS ratio against the raw baseline can exceed 0.5; the
informative `przs_keystream_consumed` record compares with the cipher alone (keystream into a
cache-resident buffer), against which 1.0 is a true bound.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable

from benchmarks._harness import BenchOptions, Record, compare, interleaved_medians

_RAW_CHUNK = 1 << 18
"""Raw baseline's `update_into` chunk: 256 KiB measured fastest of 64 KiB .. 1 MiB here. Its own
constant, so retuning the PRG's chunk for PRZS can never silently weaken the baseline."""

_TARGET = ">= 1 GB/s and ratio >= 0.5"
_BASELINE = "raw AES-256-CTR keystream into memory, same run (CPU time)"


def bench_randomness(options: BenchOptions) -> list[Record]:
    import numpy as np
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    from qkdlink.randomness import Przs, ReplicatedSeeds

    count = (1 << 19) if options.quick else (1 << 23)  # uint64 elements: 4 MiB or 64 MiB
    rounds = 3 if options.quick else 9
    parties = ["a", "b", "c"]
    seeds = {"b": secrets.token_bytes(32), "c": secrets.token_bytes(32)}
    przs = Przs("a", parties, seeds, "bench")
    replicated = ReplicatedSeeds("a", parties, seeds, "bench")

    # Every side writes into buffers allocated once, so no side pays page faults in the loop.
    out_a = np.empty(count, dtype=np.uint64)
    out_b = np.empty(count, dtype=np.uint64)
    raw_view = np.empty(count * 16, dtype=np.uint8).data
    cached_view = np.empty(_RAW_CHUNK, dtype=np.uint8).data
    zeros = bytes(_RAW_CHUNK)
    encryptor = Cipher(algorithms.AES(secrets.token_bytes(32)), modes.CTR(bytes(16))).encryptor()

    def raw_keystream(nbytes: int) -> None:
        # CTR writes exactly len(zeros) bytes, so each chunk's view is exactly its size.
        update_into = encryptor.update_into
        for off in range(0, nbytes, _RAW_CHUNK):
            update_into(zeros, raw_view[off : off + _RAW_CHUNK])

    def cipher_only(nbytes: int) -> None:
        # The same keystream, each chunk overwriting one cache-resident buffer: the cipher's rate.
        update_into = encryptor.update_into
        for _ in range(0, nbytes, _RAW_CHUNK):
            update_into(zeros, cached_view)

    def interleaved(
        candidate: Callable[[], object], baseline: Callable[[], object], nbytes: int
    ) -> tuple[float, float]:
        """GB/s of candidate and baseline, each producing `nbytes`, from CPU-time medians."""
        cand_s, base_s = interleaved_medians(candidate, baseline, rounds, clock=time.process_time)
        return nbytes / cand_s / 1e9, nbytes / base_s / 1e9

    records: list[Record] = []
    nbytes = count * 8
    gbps, raw_gbps = interleaved(
        lambda: przs.zero_share(count, out=out_a), lambda: raw_keystream(nbytes), nbytes
    )
    records.append(
        compare(
            "randomness",
            "przs_zero_share_uint64",
            gbps,
            "GB/s",
            baseline=_BASELINE,
            baseline_value=raw_gbps,
            target=_TARGET,
            met=gbps >= 1 and gbps / raw_gbps >= 0.5,
        )
    )
    # PRZS counted in keystream bytes (two streams per output byte) against the cipher alone:
    # how much of the cipher's rate the construction turns into shares.
    gbps, cipher_gbps = interleaved(
        lambda: przs.zero_share(count, out=out_a), lambda: cipher_only(nbytes), nbytes
    )
    records.append(
        compare(
            "randomness",
            "przs_keystream_consumed",
            2 * gbps,
            "GB/s",
            baseline="AES-256-CTR keystream into a cache-resident buffer, same run (CPU time)",
            baseline_value=cipher_gbps,
            target="informative (bound: ratio 1.0)",
            met=None,
        )
    )
    nbytes = count * 16
    gbps, raw_gbps = interleaved(
        lambda: replicated.random_pair(count, out=(out_a, out_b)),
        lambda: raw_keystream(nbytes),
        nbytes,
    )
    records.append(
        compare(
            "randomness",
            "replicated_random_pair_uint64",
            gbps,
            "GB/s",
            baseline=_BASELINE,
            baseline_value=raw_gbps,
            target=_TARGET,
            met=gbps >= 1 and gbps / raw_gbps >= 0.5,
        )
    )
    return records


BENCHMARKS = {"randomness": bench_randomness}
