"""The Noise Protocol Framework, revision 34 (https://noiseprotocol.org/noise.html), sans-IO.

Every one-way, fundamental and deferred handshake pattern (sections 7.4-7.6) with any
``pskN`` modifiers (section 9), the 25519 and 448 DH functions, the ChaChaPoly and AESGCM
ciphers and the SHA256, SHA512, BLAKE2s and BLAKE2b hashes (section 12). Pinned by the
cacophony test vectors. Usage::

    hs = HandshakeState("Noise_XXpsk3_25519_ChaChaPoly_BLAKE2s", initiator=True,
                        s=Curve25519().generate_keypair(), psks=[psk])
    message = hs.write_message(b"")
"""

from protocols.noise._cipher import CIPHER_FUNCTIONS, AesGcm, ChaChaPoly, CipherFunction
from protocols.noise._cipher_state import CipherState
from protocols.noise._dh import DH_FUNCTIONS, Curve448, Curve25519, DhFunction, KeyPair
from protocols.noise._errors import NonceExhaustedError, UnsupportedProtocolError
from protocols.noise._handshake_state import HandshakeState
from protocols.noise._hash import HASH_FUNCTIONS, HashFunction
from protocols.noise._patterns import PATTERNS, HandshakePattern, Token, build_pattern
from protocols.noise._protocol import NoiseProtocol
from protocols.noise._symmetric_state import SymmetricState
from protocols.noise._transport import MAX_MESSAGE_LEN, NoiseTransport
from protocols.noise._vectors import VectorMismatchError, check_vector, handshake_pair

__all__ = [
    "CIPHER_FUNCTIONS",
    "DH_FUNCTIONS",
    "HASH_FUNCTIONS",
    "MAX_MESSAGE_LEN",
    "PATTERNS",
    "AesGcm",
    "ChaChaPoly",
    "CipherFunction",
    "CipherState",
    "Curve448",
    "Curve25519",
    "DhFunction",
    "HandshakePattern",
    "HandshakeState",
    "HashFunction",
    "KeyPair",
    "NoiseProtocol",
    "NoiseTransport",
    "NonceExhaustedError",
    "SymmetricState",
    "Token",
    "UnsupportedProtocolError",
    "VectorMismatchError",
    "build_pattern",
    "check_vector",
    "handshake_pair",
]
