"""The key types the service knows: the one table of SSH labels and algorithm names.

Everything else (the configuration's choices, the API's enums, the
controller's ``allowed_types`` mapping) is derived from :data:`KEY_TYPES`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable

from cryptography.hazmat.primitives.asymmetric import ec


@dataclasses.dataclass(frozen=True)
class KeyType:
    label: str  # the OpenSSH type label, as the first field of a key line
    algorithm: str  # the service's name for it
    curve: str | None = None  # the SSH curve identifier of ecdsa keys
    security_key: bool = False  # FIDO keys carry an application string
    generatable: bool = False  # the service can make one (not a FIDO key)


KEY_TYPES: dict[str, KeyType] = {
    kt.label: kt
    for kt in (
        KeyType("ssh-ed25519", "ed25519", generatable=True),
        KeyType("ecdsa-sha2-nistp256", "ecdsa-p256", "nistp256", generatable=True),
        KeyType("ecdsa-sha2-nistp384", "ecdsa-p384", "nistp384", generatable=True),
        KeyType("ecdsa-sha2-nistp521", "ecdsa-p521", "nistp521", generatable=True),
        KeyType("ssh-rsa", "rsa", generatable=True),
        KeyType("sk-ssh-ed25519@openssh.com", "sk-ed25519", security_key=True),
        KeyType(
            "sk-ecdsa-sha2-nistp256@openssh.com", "sk-ecdsa-p256", "nistp256", security_key=True
        ),
    )
}

LABELS: tuple[str, ...] = tuple(KEY_TYPES)
ALGORITHMS: tuple[str, ...] = tuple(kt.algorithm for kt in KEY_TYPES.values())
# RSA first: it is what Nova generates and what its clients expect.
GENERATABLE_ALGORITHMS: tuple[str, ...] = (
    "rsa",
    *(kt.algorithm for kt in KEY_TYPES.values() if kt.generatable and kt.algorithm != "rsa"),
)
RSA_GENERATION_BITS = (2048, 3072, 4096)

EC_CURVES: dict[str, ec.EllipticCurve] = {
    "nistp256": ec.SECP256R1(),
    "nistp384": ec.SECP384R1(),
    "nistp521": ec.SECP521R1(),
}
_ALGORITHM_CURVES = {kt.algorithm: kt.curve for kt in KEY_TYPES.values() if kt.curve}


def curve_of(algorithm: str) -> ec.EllipticCurve:
    """The curve of an ecdsa algorithm name."""
    return EC_CURVES[_ALGORITHM_CURVES[algorithm]]


def algorithms_for_labels(labels: Iterable[str]) -> list[str]:
    """The algorithm names of the SSH labels among ``labels`` (others are skipped)."""
    return [KEY_TYPES[label].algorithm for label in labels if label in KEY_TYPES]
