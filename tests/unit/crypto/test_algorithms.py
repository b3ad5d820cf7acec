"""keypairs_ext.crypto.algorithms: the one table, and what is derived from it."""

from __future__ import annotations

from oslo_config import cfg

from keypairs_ext import conf, crypto
from keypairs_ext.api import extended


def test_algorithms_constant() -> None:
    assert crypto.ALGORITHMS == (
        "ed25519",
        "ecdsa-p256",
        "ecdsa-p384",
        "ecdsa-p521",
        "rsa",
        "sk-ed25519",
        "sk-ecdsa-p256",
    )
    assert crypto.GENERATABLE_ALGORITHMS == (
        "rsa",
        "ed25519",
        "ecdsa-p256",
        "ecdsa-p384",
        "ecdsa-p521",
    )


def test_configuration_and_api_take_their_names_from_the_table() -> None:
    options = cfg.ConfigOpts()
    conf.register_opts(options)
    options([])
    assert options.keypairs.allowed_types == [*crypto.LABELS, "x509"]
    (opt,) = [opt for opt in conf.keypairs_opts if opt.name == "generation_algorithm"]
    assert tuple(opt.type.choices) == crypto.GENERATABLE_ALGORITHMS
    algorithm = extended.CREATE["properties"]["keypair"]["properties"]["algorithm"]
    assert tuple(algorithm["enum"]) == crypto.GENERATABLE_ALGORITHMS


def test_algorithms_for_labels_skips_what_is_not_an_ssh_label() -> None:
    assert crypto.algorithms_for_labels(
        ["x509", "ssh-rsa", "sk-ecdsa-sha2-nistp256@openssh.com", "ssh-dss"]
    ) == ["rsa", "sk-ecdsa-p256"]
