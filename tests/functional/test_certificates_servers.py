"""Servers that trust their project's CA: the metadata lines, the KRL file, the refusals."""

from __future__ import annotations

import json
import pathlib
import subprocess

import pytest
import sqlalchemy as sa
import webob

from keypairs_ext.host import loader
from keypairs_ext.host.metadata import sign
from tests.conftest import build_host, fault, need_program
from tests.functional.certificates_helpers import (
    EXTENDED,
    Project,
    call,
    cert_host,
    certificate_overrides,
    import_key,
    issue,
    new_key,
)

__all__ = ["cert_host"]
SECRET = "metadata-secret"


def boot(client, version: str = EXTENDED, **server):
    body = {"server": {"name": "vm", "imageRef": "img", "flavorRef": "1", **server}}
    return call(client, "POST", "/v2.1/servers", body, version=version)


def booted(client, **server) -> str:
    response = boot(client, **server)
    assert response.status_int == 202, response.text
    return response.json["server"]["id"]


def fetch(host, path: str, instance_id: str) -> webob.Response:
    request = webob.Request.blank(path)
    request.headers["X-Instance-ID"] = instance_id
    request.headers["X-Instance-ID-Signature"] = sign(instance_id, SECRET)
    return request.get_response(host.metadata)


def meta_data(host, server_id: str) -> dict:
    response = fetch(host, "/openstack/latest/meta_data.json", server_id)
    assert response.status_int == 200
    return json.loads(response.body)


@pytest.fixture
def project(cert_host):
    return Project(cert_host.api)


def test_a_trusting_server_gets_the_ca_line_after_its_key(cert_host, project, tmp_path):
    alice = project.client("alice")
    _, public = new_key(tmp_path, "k")
    import_key(alice, "k", public)
    server_id = booted(alice, key_name="k", trust_project_ca=True, ca_principals=["ubuntu"])
    (ca,) = call(alice, "GET", "/v2.1/os-ssh-certificate-authorities").json[
        "certificate_authorities"
    ]
    line = f'cert-authority,principals="ubuntu" {ca["public_key"]}'
    document = meta_data(cert_host, server_id)
    assert document["public_keys"] == {"k": public, f"project-ca:{ca['id']}": line}
    assert [k["data"] for k in document["keys"]] == [public, line]
    ec2 = fetch(cert_host, "/latest/meta-data/public-keys/", server_id).text.splitlines()
    assert ec2 == ["0=k", f"1=project-ca:{ca['id']}"]
    served = fetch(cert_host, "/latest/meta-data/public-keys/1/openssh-key", server_id).text
    assert served == line
    listing = fetch(cert_host, "/openstack/latest/", server_id).text.splitlines()
    assert listing == ["meta_data.json", "ssh_revoked_keys"]


def test_principals_default_to_the_allowed_list(cert_host, project):
    server_id = booted(project.client(), trust_project_ca=True)
    (line,) = meta_data(cert_host, server_id)["public_keys"].values()
    assert line.startswith(
        'cert-authority,principals="ubuntu,debian,cloud-user,fedora,centos,ec2-user" ssh-ed25519 '
    )


def test_servers_that_do_not_ask_get_nothing(cert_host, project):
    booted(project.client(), trust_project_ca=True)  # the project has a CA now
    server_id = booted(project.client())
    assert "public_keys" not in meta_data(cert_host, server_id)
    assert fetch(cert_host, "/openstack/latest/ssh_revoked_keys", server_id).status_int == 404


def test_the_krl_in_the_metadata_is_the_projects_current_one(cert_host, project, tmp_path):
    need_program("ssh-keygen", "openssh-client")
    alice = project.client("alice")
    _, public = new_key(tmp_path, "k")
    import_key(alice, "k", public)
    server_id = booted(alice, trust_project_ca=True)
    cert = issue(alice, "k").json["certificate"]
    call(alice, "POST", f"/v2.1/os-ssh-certificates/{cert['serial']}/revoke")
    served = fetch(cert_host, "/openstack/latest/ssh_revoked_keys", server_id)
    assert served.status_int == 200 and served.content_type == "application/octet-stream"
    assert served.body == call(alice, "GET", "/v2.1/os-ssh-krl").body
    krl, cert_file = tmp_path / "krl", tmp_path / "k-cert.pub"
    krl.write_bytes(served.body)
    cert_file.write_text(cert["certificate"] + "\n")
    assert subprocess.run(["ssh-keygen", "-Q", "-f", krl, cert_file]).returncode == 1


def test_rotation_overlap_and_rebuild(cert_host, project):
    admin = project.admin()
    before = booted(admin, trust_project_ca=True)
    created = call(
        admin, "POST", "/v2.1/os-ssh-certificate-authorities", {"certificate_authority": {}}
    )
    assert created.status_int == 201
    after = booted(admin, trust_project_ca=True)
    assert len(meta_data(cert_host, before)["public_keys"]) == 1
    assert len(meta_data(cert_host, after)["public_keys"]) == 2
    old = call(admin, "GET", "/v2.1/os-ssh-certificate-authorities").json[
        "certificate_authorities"
    ][0]
    call(admin, "POST", f"/v2.1/os-ssh-certificate-authorities/{old['id']}/retire")
    later = booted(admin, trust_project_ca=True)
    assert list(meta_data(cert_host, later)["public_keys"]) == [
        f"project-ca:{created.json['certificate_authority']['id']}"
    ]
    rebuilt = call(
        admin,
        "POST",
        f"/v2.1/servers/{before}/action",
        {"rebuild": {"imageRef": "img2"}},
    )
    assert rebuilt.status_int == 202, rebuilt.text
    assert list(meta_data(cert_host, before)["public_keys"]) == list(
        meta_data(cert_host, later)["public_keys"]
    )


@pytest.mark.parametrize("version", ["compute 2.92", "compute 2.92, keypairs 1.0"])
def test_trust_needs_keypairs_1_3(project, version):
    response = boot(project.client(), version=version, trust_project_ca=True)
    assert fault(response) == (
        "badRequest",
        400,
        "Additional properties are not allowed ('trust_project_ca' was unexpected)",
    )


def test_bad_principals_are_400(project):
    response = boot(project.client(), trust_project_ca=True, ca_principals=['x" ssh-rsa'])
    assert fault(response)[1] == 400
    response = boot(project.client(), trust_project_ca=False, ca_principals=["ubuntu"])
    assert fault(response) == ("badRequest", 400, "ca_principals needs trust_project_ca: true.")


def test_trust_by_default(tmp_path):
    host = build_host(
        f"sqlite:///{tmp_path}/k.sqlite",
        str(tmp_path),
        **certificate_overrides(tmp_path, certificates__trust_by_default=True),
    )
    try:
        project = Project(host.api)
        client = project.client()
        assert "public_keys" not in meta_data(host, booted(client))  # no CA yet
        booted(client, trust_project_ca=True)
        assert "public_keys" in meta_data(host, booted(client))
        assert "public_keys" not in meta_data(host, booted(client, trust_project_ca=False))
    finally:
        host.close()


def test_without_certificates_the_routes_are_absent_and_trust_is_refused(host):
    project = Project(host.api)
    response = call(project.client(), "GET", "/v2.1/os-ssh-krl")
    assert response.status_int == 404
    refused = boot(project.client(), trust_project_ca=True)
    assert fault(refused) == ("badRequest", 400, "SSH certificates are not enabled on this cloud.")


@pytest.mark.parametrize(
    "options, message",
    [
        ({}, "needs key_file or passphrase_file"),
        ({"certificates__key_file": "/nonexistent/key"}, "cannot read the key file"),
        (
            {"certificates__key_file": "k", "certificates__passphrase_file": "p"},
            "key_file and passphrase_file are exclusive",
        ),
    ],
)
def test_certificates_are_refused_without_a_sealing_key(tmp_path, options, message):
    with pytest.raises(loader.ExtensionLoadError, match=message):
        build_host(
            f"sqlite:///{tmp_path}/k.sqlite",
            str(tmp_path),
            certificates__enabled=True,
            **options,
        )


def test_the_ca_private_key_is_sealed_in_the_database(cert_host, project, tmp_path):
    booted(project.client(), trust_project_ca=True)
    engine = cert_host.database.writer.get_engine()
    with engine.connect() as connection:
        (sealed,) = connection.execute(
            sa.text(
                "SELECT sealed_private_key FROM ssh_certificate_authorities WHERE project_id = :p"
            ),
            {"p": project.id},
        ).one()
    assert sealed.startswith("aesgcm1$key$") and "PRIVATE KEY" not in sealed


ROUTES_DOC = (
    pathlib.Path(__file__).parents[2] / "doc" / "source" / "reference" / "routes-certificates.txt"
)


def test_the_routes_certificates_add_are_documented(cert_host, host):
    documented = [
        tuple(line.split(None, 1))
        for line in ROUTES_DOC.read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    added = set(cert_host.compute.route_table()) - set(host.compute.route_table())
    assert sorted(added) == sorted(documented)
