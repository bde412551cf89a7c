"""`etsi014`: strict parsing and serialization of a full Key container beside bare JSON + base64.

A KME answering `enc_keys` with `number = max_key_per_request` serializes one Key container and
the SAE parses it; the `kme-bulk` target (>= 50,000 keys/s per KME) needs the data model to be a
small share of that budget. The baseline is the least any JSON key container costs in Python:
`json.loads` of the same bytes plus base64-decoding every key (and, for serialization,
base64-encoding plus `json.dumps`), measured alternately with the candidate in the same run.
"""

from __future__ import annotations

import base64
import json
import os
import uuid

from benchmarks._harness import BenchOptions, Record, compare, interleaved_medians

# Our own target (the issue sets none for the data model): at 5x kme-bulk's 50,000 keys/s, one
# parse or one serialization costs at most a fifth of a bulk KME's per-key budget. The ratio is
# reported, not targeted: strict checks and UUID objects cost several times the bare decode.
_TARGET = ">= 250,000 keys/s (5x the kme-bulk target)"


def bench_etsi014(options: BenchOptions) -> list[Record]:
    from protocols.etsi014 import Key, KeyContainer

    count = 128 if options.quick else 1024
    rounds = 5 if options.quick else 31
    container = KeyContainer(tuple(Key(uuid.uuid4(), os.urandom(32)) for _ in range(count)))
    body = container.to_json()
    plain = [(str(k.key_id), k.key) for k in container.keys]

    def bare_parse() -> None:
        for item in json.loads(body)["keys"]:
            base64.b64decode(item["key"])

    def bare_serialize() -> None:
        keys = [{"key_ID": i, "key": base64.b64encode(m).decode()} for i, m in plain]
        json.dumps({"keys": keys}, separators=(",", ":")).encode()

    records: list[Record] = []
    for metric, candidate, baseline in (
        ("key_container_parse", lambda: KeyContainer.from_json(body), bare_parse),
        ("key_container_serialize", container.to_json, bare_serialize),
    ):
        cand_s, base_s = interleaved_medians(candidate, baseline, rounds)
        rate, base_rate = count / cand_s, count / base_s
        records.append(
            compare(
                "etsi014",
                metric,
                rate,
                "keys/s",
                baseline="bare json + base64 of the same container, same run",
                baseline_value=base_rate,
                target=_TARGET,
                met=rate >= 250_000,
            )
        )
    return records


BENCHMARKS = {"etsi014": bench_etsi014}
