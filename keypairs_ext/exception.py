"""Domain errors of the keypairs extension.

They carry a message and nothing about HTTP: each derives from one of the
host contract's error classes, and the host maps that class to a fault.
"""

from keypairs_ext.host.contract import (
    Conflict,
    Forbidden,
    Invalid,
    NotAcceptable,
    NotFound,
    QuotaExceeded,
    ServiceUnavailable,
)

__all__ = [
    "Conflict",
    "Forbidden",
    "Invalid",
    "InvalidKeypair",
    "InvalidKeyName",
    "KeypairExists",
    "KeypairLimitExceeded",
    "KeypairNotFound",
    "SharedKeypairExists",
    "SharedKeypairLimitExceeded",
    "SharedKeypairNotFound",
    "NotAcceptable",
    "NotFound",
    "ServiceUnavailable",
]


class InvalidKeypair(Invalid):
    """A public key, certificate or keypair request that cannot be accepted."""

    message = "Keypair data is invalid: %(reason)s"

    def __init__(self, reason: str) -> None:
        super().__init__(reason=reason)
        self.reason = reason


class KeypairExists(Conflict):
    message = "Key pair '%(name)s' already exists."

    def __init__(self, name: str) -> None:
        super().__init__(name=name)
        self.name = name


class KeypairNotFound(NotFound):
    message = "Keypair %(name)s not found for user %(user_id)s"

    def __init__(self, name: str, user_id: str) -> None:
        super().__init__(name=name, user_id=user_id)
        self.name = name
        self.user_id = user_id


class KeypairLimitExceeded(QuotaExceeded):
    message = "Quota exceeded, too many key pairs."


class InvalidKeyName(Invalid):
    message = "Invalid key_name provided."


class SharedKeypairExists(Conflict):
    message = "A key pair named '%(name)s' is already shared with this project."

    def __init__(self, name: str) -> None:
        super().__init__(name=name)


class SharedKeypairNotFound(NotFound):
    message = "No key pair named %(name)s is shared with this project."

    def __init__(self, name: str) -> None:
        super().__init__(name=name)


class SharedKeypairLimitExceeded(QuotaExceeded):
    message = "Quota exceeded, too many key pairs shared with this project."
