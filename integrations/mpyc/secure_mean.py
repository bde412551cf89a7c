"""An unmodified-style MPyC program: the secure mean of private values held by the parties.

Run by every party as `python -m integrations.mpyc.secure_mean -M3 -I i -P ... --sum S --count C`
(MPyC parses its own options and leaves ours). Each party contributes the sum and count of its
local values; the joint mean and the total count are revealed, no party's own sum is.
The result is printed as one line `MEAN <value>` for the caller to read.
"""

from __future__ import annotations

import argparse
import sys


def main() -> None:
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--sum", type=float, required=True)
    parser.add_argument("--count", type=int, required=True)
    own, rest = parser.parse_known_args()
    sys.argv = [sys.argv[0], *rest]  # leave only MPyC's options for its runtime

    from mpyc.runtime import mpc

    secfxp = mpc.SecFxp(64, 32)
    secint = mpc.SecInt(32)

    async def run() -> float:
        await mpc.start()
        # integral=False at every party: MPyC picks protocols by this flag, so all must agree.
        sums = mpc.input(secfxp(own.sum, integral=False))
        counts = mpc.input(secint(own.count))
        # The number of records is public here (it is in any published mean); only the sum
        # stays secret, so the division is by a public value.
        total = int(await mpc.output(mpc.sum(counts)))
        value = await mpc.output(mpc.sum(sums) * (1 / total))
        await mpc.shutdown()
        return float(value)

    print(f"MEAN {mpc.run(run())!r}", flush=True)


if __name__ == "__main__":
    main()
