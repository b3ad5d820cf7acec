"""Options of the keypairs extension: ``[keypairs]`` and ``[quota]``."""

from __future__ import annotations

from oslo_config import cfg

from keypairs_ext.crypto.algorithms import GENERATABLE_ALGORITHMS, LABELS, RSA_GENERATION_BITS

keypairs_opts: list[cfg.Opt] = [
    cfg.BoolOpt(
        "allow_generation",
        default=True,
        help="Generate a key pair on the server when a create request has no "
        "public_key (microversions before 2.92). When false such a request "
        "is a 400 and users import their own public keys.",
    ),
    cfg.StrOpt(
        "generation_algorithm",
        default="rsa",
        choices=list(GENERATABLE_ALGORITHMS),
        help="Algorithm of server-generated SSH keys. The default, rsa, gives "
        "the PEM 'BEGIN RSA PRIVATE KEY' that Nova clients expect; others "
        "return an OpenSSH private key.",
    ),
    cfg.IntOpt(
        "generation_rsa_bits",
        default=2048,
        choices=list(RSA_GENERATION_BITS),
        help="Modulus size of generated RSA keys.",
    ),
    cfg.IntOpt(
        "rsa_pool_size",
        default=4,
        min=0,
        max=64,
        help="RSA keys each API process generates ahead of time, so that a "
        "generate request does not wait for prime search (about 100 ms, and "
        "several hundred at the tail). Each pooled key is handed out once, "
        "never written or logged; the trade-off is that up to this many "
        "unissued private keys sit in each worker's memory. 0 turns the pool "
        "off.",
    ),
    cfg.IntOpt(
        "min_rsa_bits",
        default=2048,
        min=1024,
        max=16384,
        help="Smallest RSA modulus accepted on import.",
    ),
    cfg.ListOpt(
        "allowed_types",
        default=[*LABELS, "x509"],
        help="Key types accepted on import (OpenSSH type labels, and x509 "
        "for certificates). DSA is never accepted.",
    ),
    cfg.BoolOpt(
        "extended_notifications",
        default=True,
        help="Send the extended contract's own events (keypairs_ext payloads "
        "on the versioned topics) beside OpenStack Compute's. False sends "
        "the compatible stream only.",
    ),
]

quota_opts: list[cfg.Opt] = [
    cfg.IntOpt(
        "key_pairs",
        default=100,
        min=-1,
        help="Key pairs one user may hold; -1 is unlimited.",
    ),
]


def register_opts(conf: cfg.ConfigOpts) -> None:
    conf.register_opts(keypairs_opts, group="keypairs")
    conf.register_opts(quota_opts, group="quota")


def list_opts() -> list[tuple[str, list[cfg.Opt]]]:
    return [("keypairs", keypairs_opts), ("quota", quota_opts)]
