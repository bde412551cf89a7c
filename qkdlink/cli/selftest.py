"""`qkdlink selftest noise FILE`: run a cacophony-format Noise vector file against this build.

Prints one line per failing vector, then ``N passed, M failed``; exits 1 if any failed and 2
if the file cannot be read as a vector file at all.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("selftest", help="check this build against test vectors")
    suites = parser.add_subparsers(dest="suite", metavar="SUITE", required=True)
    noise = suites.add_parser("noise", help="run a Noise test-vector file (cacophony JSON format)")
    noise.add_argument("file", type=Path, metavar="FILE", help="vector file (JSON)")
    noise.add_argument("-v", "--verbose", action="store_true", help="print passing vectors too")
    noise.set_defaults(handler=_noise)


def _noise(args: argparse.Namespace) -> int:
    import json

    from protocols.noise import VectorMismatchError, check_vector

    try:
        document = json.loads(Path(args.file).read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        print(f"qkdlink selftest: cannot read {args.file}: {exc}", file=sys.stderr)
        return 2
    vectors = document.get("vectors") if isinstance(document, dict) else document
    if not isinstance(vectors, list) or not vectors:
        # An empty file checks nothing; it must not read as a passing self-test.
        print(f"qkdlink selftest: {args.file} holds no vectors", file=sys.stderr)
        return 2
    passed = failed = 0
    for index, vector in enumerate(vectors):
        name = vector.get("protocol_name", "?") if isinstance(vector, dict) else "?"
        try:
            if not isinstance(vector, dict):
                raise TypeError("a vector must be a JSON object")
            check_vector(vector)
        except VectorMismatchError as exc:
            failed += 1
            print(f"FAIL {index} {name!r}: {exc}")
        except Exception as exc:
            # Malformed vectors (wrong JSON types, bad hex, unsupported names) and errors this
            # build raises on them count and are named; the run goes on to the next vector.
            failed += 1
            print(f"FAIL {index} {name!r}: {type(exc).__name__}: {exc}")
        else:
            passed += 1
            if args.verbose:
                print(f"ok   {index} {name}")
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0
