"""The public surface of protocols.bb84 is pinned."""

from __future__ import annotations

import protocols.bb84 as bb84


def test_exports() -> None:
    assert sorted(bb84.__all__) == sorted(
        [
            "BASIS_X",
            "BASIS_Z",
            "AlicePostProcessing",
            "AliceRecord",
            "AuthKeyPool",
            "BlockStatistics",
            "BobPostProcessing",
            "BobRecord",
            "KeyDistilled",
            "PostProcessingConfig",
            "Reconciliation",
            "Role",
            "State",
            "TransferResult",
            "run_in_memory",
        ]
    )
    for name in bb84.__all__:
        assert getattr(bb84, name) is not None
