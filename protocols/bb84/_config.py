"""Configuration of one post-processing endpoint: a frozen dataclass validated when built."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from protocols.errors import LocalProtocolError

__all__ = ["PostProcessingConfig", "Reconciliation"]

Reconciliation = Literal["cascade", "cascade-opt", "ldpc"]


@dataclass(frozen=True, slots=True)
class PostProcessingConfig:
    """Parameters both ends must agree on (a mismatch shows as a failed verification or abort).

    `intensities` lists the mean photon numbers of the intensity classes, signal first: one value
    (no decoys: the GLLP bound that counts every multi-photon detection as insecure) or three,
    μ1 > μ2 + μ3 and μ2 > μ3 >= 0 (signal, weak decoy, vacuum-like decoy; Lim et al., PRA 89,
    022307 (2014), whose finite-key bound sets the key length).
    """

    intensities: tuple[float, ...]
    """Mean photon number per intensity class; class 0 is the signal."""
    reconciliation: Reconciliation = "cascade-opt"
    """`cascade` (Brassard-Salvail 1993), `cascade-opt` (Martinez-Mateo et al. 2015, opt. 8) or
    `ldpc` (syndrome decoding, Elkouss et al. 2009, with increments on failure; see `_ldpc`)."""
    eps_sec: float = 1e-10
    """Secrecy parameter of the final key (Lim et al. 2014, Eq. (1))."""
    eps_cor: float = 1e-15
    """Correctness parameter: the verification tag has ceil(log2(1/eps_cor)) bits."""
    frame_bits: int = 1 << 17
    """Cascade frame size: longer keys are cut into frames reconciled side by side (one batch
    of binary searches and one round trip serve all frames)."""
    ldpc_frame_bits: int = 1 << 15
    """LDPC frame (code) length: longer keys are cut into equal frames of at most this size,
    decoded together as one batch."""
    max_qber: float = 0.11
    """Abort above this X-basis error rate, whatever the bound says (BB84 one-way limit)."""
    max_message_bytes: int = 1 << 27
    """Cap on one incoming message (the sifting announcement is the largest)."""

    def __post_init__(self) -> None:
        mu = tuple(float(m) for m in self.intensities)
        object.__setattr__(self, "intensities", mu)
        if len(mu) == 1:
            if not 0.0 < mu[0] < 10.0:
                raise LocalProtocolError("signal intensity must lie in (0, 10)")
        elif len(mu) == 3:
            if not (mu[0] > mu[1] + mu[2] and mu[1] > mu[2] >= 0.0 and mu[0] < 10.0):
                raise LocalProtocolError("decoy intensities need mu1 > mu2 + mu3, mu2 > mu3 >= 0")
        else:
            raise LocalProtocolError("intensities: one value (no decoy) or three (decoy state)")
        if self.reconciliation not in ("cascade", "cascade-opt", "ldpc"):
            raise LocalProtocolError(f"unknown reconciliation {self.reconciliation!r}")
        for name in ("eps_sec", "eps_cor"):
            value = getattr(self, name)
            if not (0.0 < value < 1.0) or math.isnan(value):
                raise LocalProtocolError(f"{name} must lie in (0, 1)")
        if not 0.0 < self.max_qber < 0.5:
            raise LocalProtocolError("max_qber must lie in (0, 0.5)")
        if self.frame_bits < 256:
            raise LocalProtocolError("frame_bits must be at least 256")
        if self.ldpc_frame_bits < 256:
            raise LocalProtocolError("ldpc_frame_bits must be at least 256")
        if self.max_message_bytes < 1024:
            raise LocalProtocolError("max_message_bytes must be at least 1024")

    @property
    def decoy(self) -> bool:
        """Whether decoy-state estimation is used (three intensity classes)."""
        return len(self.intensities) == 3

    @property
    def verification_tag_bits(self) -> int:
        """Length of the verification hash: collision probability 2^-t <= eps_cor."""
        return math.ceil(math.log2(1.0 / self.eps_cor))
