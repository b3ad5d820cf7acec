"""Parse and fingerprint public keys and certificates; generate key pairs.

Pure functions: no configuration, database, HTTP or logging.  Every input
that cannot be accepted raises :class:`~keypairs_ext.exception.InvalidKeypair`
with a reason that tells the user what is wrong.

One module per concept:

* ``algorithms``: the key types, the one source of labels and algorithm names;
* ``wire``: the SSH wire format (RFC 4251) reader and writers;
* ``keys``: the records returned (:class:`PublicKey`, :class:`GeneratedKeypair`)
  and fingerprints;
* ``openssh``: the one-line OpenSSH public key, as Nova's import takes it;
* ``rfc4716_pem``: the extended import of RFC 4716 and PEM public keys;
* ``x509``: certificate import and Nova's WinRM client certificate;
* ``generation``: SSH key pairs made by the service;
* ``private_keys``: the private-key writers, PuTTY's PPK among them;
* ``certificates``: OpenSSH user certificates signed by a CA key;
* ``krl``: OpenSSH key revocation lists, as ``ssh-keygen -k`` writes them;
* ``sealing``: CA private keys sealed at rest (AES-256-GCM).
"""

from keypairs_ext.crypto.algorithms import (
    ALGORITHMS,
    GENERATABLE_ALGORITHMS,
    LABELS,
    RSA_GENERATION_BITS,
    algorithms_for_labels,
)
from keypairs_ext.crypto.generation import generate_ssh_keypair, new_private_key
from keypairs_ext.crypto.keys import GeneratedKeypair, PublicKey
from keypairs_ext.crypto.openssh import parse_openssh_public_key
from keypairs_ext.crypto.private_keys import PRIVATE_KEY_FORMATS
from keypairs_ext.crypto.rfc4716_pem import parse_public_key_any
from keypairs_ext.crypto.x509 import generate_x509_keypair, parse_x509_certificate

__all__ = [
    "ALGORITHMS",
    "GENERATABLE_ALGORITHMS",
    "LABELS",
    "PRIVATE_KEY_FORMATS",
    "RSA_GENERATION_BITS",
    "GeneratedKeypair",
    "PublicKey",
    "algorithms_for_labels",
    "generate_ssh_keypair",
    "generate_x509_keypair",
    "new_private_key",
    "parse_openssh_public_key",
    "parse_public_key_any",
    "parse_x509_certificate",
]
