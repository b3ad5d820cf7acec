"""Options of the keypairs extension: ``[keypairs]``, ``[quota]`` and ``[certificates]``."""

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
    cfg.IntOpt(
        "max_keys_per_server",
        default=10,
        min=1,
        max=100,
        help="Most keys one server create or rebuild may name in key_names "
        "(keypairs 1.2); each becomes a line of the server's authorized_keys.",
    ),
]

lifecycle_opts: list[cfg.Opt] = [
    cfg.IntOpt(
        "max_key_lifetime",
        default=0,
        min=0,
        help="Longest life of a key pair, in seconds (0: no limit). When set, "
        "an expires_at or expires_in beyond it is a 400, an expiry cannot be "
        "removed, and a key pair created without one (through either API) "
        "expires this many seconds after its creation.",
    ),
    cfg.BoolOpt(
        "expiry_time_utc_suffix",
        default=False,
        help="Write the expiry-time option of a key served to guests with a "
        'trailing Z (expiry-time="YYYYMMDDHHMMSSZ"), which OpenSSH 9.1 and '
        "later read as UTC. Older sshd refuses such a line outright (and so "
        "the key), so the default writes the time without it, which OpenSSH "
        "7.7 and later read in the guest's system time zone: UTC on the "
        "common cloud images. Turn this on when every image runs OpenSSH 9.1 "
        "or later, or some run in another time zone.",
    ),
]

quota_opts: list[cfg.Opt] = [
    cfg.IntOpt(
        "key_pairs",
        default=100,
        min=-1,
        help="Key pairs one user may hold; -1 is unlimited.",
    ),
    cfg.IntOpt(
        "shared_key_pairs",
        default=100,
        min=-1,
        help="Key pairs that may be shared with one project (visibility "
        "project, keypairs 1.2), whoever owns them; -1 is unlimited. A shared "
        "key counts against its owner's key_pairs quota too.",
    ),
]

certificates_opts: list[cfg.Opt] = [
    cfg.BoolOpt(
        "enabled",
        default=False,
        help="Offer SSH certificates (extended contract keypairs 1.3): a CA per "
        "project, short-lived user certificates for key pairs, the CA served to "
        "servers, a published KRL. Needs key_file or passphrase_file: the service "
        "refuses to start with certificates enabled and neither set.",
    ),
    cfg.StrOpt(
        "key_file",
        help="File holding the key that seals CA private keys at rest: 32 random "
        "bytes in base64 (openssl rand -base64 32). Readable by the service only. "
        "Exclusive with passphrase_file.",
    ),
    cfg.StrOpt(
        "passphrase_file",
        help="File holding a passphrase (at least 16 characters) from which the "
        "sealing key of each CA private key is derived with scrypt. Exclusive "
        "with key_file.",
    ),
    cfg.StrOpt(
        "ca_algorithm",
        default="ed25519",
        choices=["ed25519", "ecdsa-p256", "ecdsa-p384", "ecdsa-p521", "rsa"],
        help="Algorithm of new project CAs (rsa: 4096 bits).",
    ),
    cfg.ListOpt(
        "allowed_principals",
        default=["ubuntu", "debian", "cloud-user", "fedora", "centos", "ec2-user"],
        help="Principals (login names) a user may ask a certificate for. An "
        "administrator may ask for others (policy "
        "os_compute_api:os-keypairs:certificates:any_principal).",
    ),
    cfg.ListOpt(
        "server_principals",
        default=[],
        help='The principals="..." of the cert-authority line a server gets '
        "when its create request names none; empty means allowed_principals.",
    ),
    cfg.IntOpt(
        "default_validity",
        default=3600,
        min=1,
        help="Seconds a certificate is valid when the request does not say.",
    ),
    cfg.IntOpt(
        "max_validity",
        default=86400,
        min=1,
        help="The longest validity, in seconds, a certificate may be issued for.",
    ),
    cfg.IntOpt(
        "clock_skew",
        default=30,
        min=0,
        max=3600,
        help="Seconds a certificate's validity starts before the moment it is "
        "issued, for servers whose clocks run behind (Vault's "
        "not_before_duration).",
    ),
    cfg.ListOpt(
        "allowed_extensions",
        default=[
            "permit-X11-forwarding",
            "permit-agent-forwarding",
            "permit-port-forwarding",
            "permit-pty",
            "permit-user-rc",
        ],
        help="Certificate extensions a request may ask for.",
    ),
    cfg.ListOpt(
        "default_extensions",
        default=["permit-pty"],
        help="Certificate extensions when the request names none.",
    ),
    cfg.BoolOpt(
        "trust_by_default",
        default=False,
        help="Servers created in a project that has a CA trust it even when the "
        "create request does not ask (trust_project_ca).",
    ),
]


def register_opts(conf: cfg.ConfigOpts) -> None:
    conf.register_opts(keypairs_opts, group="keypairs")
    conf.register_opts(lifecycle_opts, group="keypairs")
    conf.register_opts(quota_opts, group="quota")
    conf.register_opts(certificates_opts, group="certificates")


def list_opts() -> list[tuple[str, list[cfg.Opt]]]:
    return [
        ("keypairs", keypairs_opts + lifecycle_opts),
        ("quota", quota_opts),
        ("certificates", certificates_opts),
    ]
