"""`python -m benchmarks [NAME ...] [--quick] [--json OUT] [--list]`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from benchmarks._harness import BenchOptions, Record, discover, format_table, write_json


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("names", nargs="*", help="benchmarks to run (default: all)")
    parser.add_argument("--quick", action="store_true", help="small counts (smoke test)")
    parser.add_argument("--json", type=Path, metavar="OUT", help="write the records as JSON")
    parser.add_argument("--list", action="store_true", help="list the benchmark names and exit")
    args = parser.parse_args(argv)

    table = discover()
    if args.list:
        print("\n".join(sorted(table)))
        return 0
    unknown = [n for n in args.names if n not in table]
    if unknown:
        parser.error(
            f"unknown benchmark(s): {', '.join(unknown)}; known: {', '.join(sorted(table))}"
        )
    names = args.names or sorted(table)
    options = BenchOptions(quick=args.quick)
    records: list[Record] = []
    for name in names:
        print(f"running {name} ...", file=sys.stderr, flush=True)
        records.extend(table[name](options))
    print(format_table(records))
    if args.json is not None:
        write_json(records, args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
