"""BB84 classical post-processing, sans-IO: sifting, decoy-state estimation, Cascade, verification,
privacy amplification, every message authenticated (Wegman-Carter, one-time Poly1305 keys).

Inputs (numpy arrays, one entry per pulse, aligned by pulse number):

* ``AliceRecord(pulse_index, bits, bases, intensity, pulses_sent)`` — Alice's bit (0/1), basis
  (``BASIS_Z`` = 0, ``BASIS_X`` = 1) and intensity class (index into
  ``PostProcessingConfig.intensities``, signal = 0) for at least every pulse Bob detected, and
  ``pulses_sent[k]``, how many pulses of class k she sent in the block (detected or not).
* ``BobRecord(pulse_index, bases, bits)`` — Bob's basis and bit for the pulses that clicked
  only (leave no-click pulses out; map double clicks to a random bit first).

``pulse_index`` is int64, strictly increasing; if the simulator already hands both ends the same
detected pulses, pass ``np.arange(m)`` to both.

Running a block over any transport::

    config = PostProcessingConfig(intensities=(0.5, 0.1, 0.0))     # or (mu,) without decoys
    alice = AlicePostProcessing(alice_record, config=config, auth_pool=AuthKeyPool(k))
    bob = BobPostProcessing(bob_record, config=config, auth_pool=AuthKeyPool(k))
    bob.start()
    # shuttle bytes: peer.receive_data(me.data_to_send()) until both yield KeyDistilled
    # from next_event(); PostProcessingAbortedError(reason) ends a block without key (flush
    # data_to_send() once more so the peer learns why).

or in memory, counting classical traffic: ``result = run_in_memory(alice, bob)`` gives a
``TransferResult`` (``alice``/``bob`` events, ``abort_reason``, ``aborted``,
``bytes_alice_to_bob``, ``bytes_bob_to_alice``, ``classical_bytes``, ``messages``,
``round_trips``); aborts are reported there, ``RemoteProtocolError`` and ``AuthenticationError``
propagate. ``KeyDistilled.statistics`` (``BlockStatistics``) carries the public figures (QBERs,
bounds, ``ec_leaked_bits``, ``ec_efficiency``, ``final_key_bits``, ``net_key_bits``, ...).
Both ends take ``random_source: Callable[[int], bytes]`` (default ``os.urandom``) for their
public seeds; pass seeded generators for reproducible runs. The pool ``k`` must be identical at
both ends; return ``KeyDistilled.auth_refill`` to it (``pool.refill``) after each block.

Error correction is Cascade: ``reconciliation="cascade"`` (Brassard & Salvail 1993) or
``"cascade-opt"`` (Martinez-Mateo et al., QIC 15 (2015), option 8 with sub-block reuse).
LDPC: ``reconciliation="ldpc"`` (syndrome decoding, Elkouss et al. 2009, with increments on
failure). See docs/simulator.md, section "Post-processing", for the design and references.
"""

from protocols.bb84._alice import AlicePostProcessing
from protocols.bb84._auth import AuthKeyPool
from protocols.bb84._bob import BobPostProcessing
from protocols.bb84._config import PostProcessingConfig, Reconciliation
from protocols.bb84._memory import TransferResult, run_in_memory
from protocols.bb84._records import BASIS_X, BASIS_Z, AliceRecord, BobRecord
from protocols.bb84._state import Role, State
from protocols.bb84.events import BlockStatistics, KeyDistilled

__all__ = [
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
