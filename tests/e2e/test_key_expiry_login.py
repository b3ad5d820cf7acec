"""A key that expires, end to end: the guest's own sshd stops accepting it.

A keypair created with ``expires_in: 20`` (keypairs 1.1) boots a server;
cloud-init's OpenStack datasource writes ``authorized_keys`` from the
metadata service (:mod:`tests.e2e.guest`), with the key behind OpenSSH's
``expiry-time`` option; a real sshd lets the key in before that time and
refuses it after, with no agent in the guest.  The sshd runs with
``TZ=UTC``, as cloud images do: the default form of the option is read in
the guest's system time zone.
"""

from __future__ import annotations

import datetime
import getpass
import time

import pytest

from keypairs_ext.api import extended
from tests.e2e.api_process import ApiProcess
from tests.e2e.guest import Guest, Sshd, need_guest_tools

pytestmark = pytest.mark.e2e

LIFETIME = 20
V11 = {"OpenStack-API-Version": f"compute 2.92, keypairs {extended.LIFECYCLE_VERSION}"}


@pytest.fixture(scope="module")
def api(tmp_path_factory):
    process = ApiProcess(tmp_path_factory.mktemp("api")).start()
    yield process
    process.stop()


def test_sshd_accepts_the_key_before_its_expiry_and_refuses_it_after(api, tmp_path):
    need_guest_tools()
    status, body = api.request(
        "POST",
        "/os-keypairs",
        {"keypair": {"name": "for-a-while", "algorithm": "ed25519", "expires_in": LIFETIME}},
        version="2.92",
        headers=V11,
    )
    assert status == 201, body
    keypair = body["keypair"]
    expires_at = datetime.datetime.strptime(keypair["expires_at"], "%Y-%m-%dT%H:%M:%SZ")
    stamp = expires_at.strftime("%Y%m%d%H%M%S")
    status, body = api.request(
        "POST",
        "/servers",
        {"server": {"name": "vm", "imageRef": "img", "flavorRef": "1", "key_name": "for-a-while"}},
        version="2.92",
    )
    assert status == 202, body
    server_id = body["server"]["id"]

    sshd = Sshd(tmp_path / "sshd", env={"TZ": "UTC"})
    try:
        guest = Guest(api, server_id, sshd, tmp_path / "guest").boot()
        line = f'expiry-time="{stamp}" {keypair["public_key"]}'
        assert guest.public_keys == [line]
        assert guest.ec2_public_keys == [line]
        assert guest.authorized_keys == line + "\n"

        before = sshd.login(keypair["private_key"], "before")
        assert datetime.datetime.now(datetime.UTC).replace(tzinfo=None) < expires_at
        assert before.returncode == 0, before.stderr
        assert before.stdout.strip() == "logged-in-before"

        # sshd refuses once the second named has passed.
        wait = (
            expires_at - datetime.datetime.now(datetime.UTC).replace(tzinfo=None)
        ).total_seconds()
        time.sleep(max(0.0, wait) + 1.5)
        after = sshd.login(keypair["private_key"], "after")
        assert after.returncode == 255 and "Permission denied" in after.stderr, after
        # The same key, offered and refused (not some other failure).
        assert f"Failed publickey for {getpass.getuser()} from 127.0.0.1" in sshd.log.read_text()
        assert f"ED25519 {keypair['fingerprint_sha256']}" in sshd.log.read_text()
    finally:
        sshd.stop()

    # The API refuses a new server with the key, naming it and the time.
    status, body = api.request(
        "POST",
        "/servers",
        {"server": {"name": "vm2", "imageRef": "img", "flavorRef": "1", "key_name": "for-a-while"}},
        version="2.92",
    )
    assert (status, body) == (
        400,
        {
            "badRequest": {
                "code": 400,
                "message": f"Key pair 'for-a-while' expired at {keypair['expires_at']} "
                "and cannot be used for a new server or a rebuild.",
            }
        },
    )
    status, body = api.request("GET", "/os-keypairs/for-a-while", version="2.92", headers=V11)
    assert status == 200 and body["keypair"]["expired"] is True
    assert body["keypair"]["server_count"] == 1
