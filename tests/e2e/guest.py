"""A guest for end-to-end tests: real cloud-init, real sshd, on loopback.

What a server does at first boot, with the real programs: cloud-init's
OpenStack datasource reads the metadata service through a proxy that signs
the instance id (what Neutron's metadata proxy does for a guest's requests to
169.254.169.254), cloud-init's ``ssh_util`` writes ``authorized_keys``, and
a real OpenStack ``sshd`` on a loopback port reads that file.  Use it as::

    from tests.e2e.guest import Guest, Sshd, need_guest_tools

    need_guest_tools()                      # skip, or fail in CI, without them
    sshd = Sshd(tmp_path / "sshd")          # one sshd can serve many guests
    guest = Guest(api, server_id, sshd, tmp_path / "guest").boot()
    guest.public_keys                       # the keys cloud-init found
    result = guest.login(private_key)       # ssh -i ... (CompletedProcess)
    assert result.returncode == 0, result.stderr
    sshd.stop()

``api`` is a :class:`tests.e2e.api_process.ApiProcess`.  ``boot()`` starts
from an empty ``authorized_keys`` (a new guest) and may be called again for
another server on the same sshd; the proxy lives only for the crawl.
"""

from __future__ import annotations

import getpass
import http.client
import http.server
import json
import os
import pathlib
import subprocess
import threading
import time
from typing import Any

from tests.conftest import need_program
from tests.e2e.api_process import ApiProcess
from tests.support import free_port

SSHD = "/usr/sbin/sshd"
CLOUD_INIT = "/usr/bin/cloud-init"
DRIVER = pathlib.Path(__file__).with_name("cloud_init_guest.py")


def need_guest_tools() -> None:
    """sshd, ssh and cloud-init: skip without them, or fail under CI."""
    need_program(SSHD, "openssh-server")
    need_program("ssh", "openssh-client")
    need_program(CLOUD_INIT, "cloud-init")


def cloud_init_python() -> str:
    """The interpreter cloud-init runs under (from its script's first line)."""
    first = pathlib.Path(CLOUD_INIT).read_text().splitlines()[0]
    return first.removeprefix("#!").split()[0]


class MetadataProxy:
    """Forwards a guest's GETs to the metadata service with the signed
    ``X-Instance-ID`` headers of that one instance, as Neutron's proxy does."""

    def __init__(self, api: ApiProcess, instance_id: str) -> None:
        from keypairs_ext.host.metadata import sign

        headers = {
            "X-Instance-ID": instance_id,
            "X-Instance-ID-Signature": sign(instance_id, api.secret),
            "X-Forwarded-For": "127.0.0.1",
        }
        upstream_port = api.metadata_port

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                connection = http.client.HTTPConnection("127.0.0.1", upstream_port, timeout=30)
                try:
                    connection.request("GET", self.path, headers=headers)
                    response = connection.getresponse()
                    body = response.read()
                finally:
                    connection.close()
                self.send_response(response.status)
                self.send_header("Content-Type", response.getheader("Content-Type", "text/plain"))
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> MetadataProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(timeout=10)


class Sshd:
    """A real OpenSSH sshd on a loopback port, reading one authorized_keys file.

    ``env`` adds to sshd's environment (``{"TZ": "UTC"}`` plays a cloud
    image's time zone); ``extra_config`` adds sshd_config lines
    (``RevokedKeys FILE``...).
    """

    def __init__(
        self, workdir: pathlib.Path, env: dict[str, str] | None = None, extra_config: str = ""
    ) -> None:
        workdir.mkdir(parents=True, exist_ok=True)
        self.workdir = workdir
        self.port = free_port()
        self.authorized_keys = workdir / "authorized_keys"
        self.authorized_keys.write_text("")
        host_key = workdir / "host_ed25519"
        subprocess.run(
            ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(host_key)], check=True
        )
        self.config = workdir / "sshd_config"
        self.config.write_text(
            f"Port {self.port}\nListenAddress 127.0.0.1\nHostKey {host_key}\n"
            f"AuthorizedKeysFile {self.authorized_keys}\nPidFile {workdir}/sshd.pid\n"
            "StrictModes no\nUsePAM no\nPasswordAuthentication no\n"
            "KbdInteractiveAuthentication no\nPubkeyAuthentication yes\n"
            "PermitRootLogin prohibit-password\n"
            f"AllowUsers {getpass.getuser()}\nLogLevel VERBOSE\n" + extra_config
        )
        os.makedirs("/run/sshd", exist_ok=True)
        self.log = workdir / "sshd.log"
        self.process = subprocess.Popen(
            [SSHD, "-D", "-e", "-f", str(self.config)],
            stderr=self.log.open("w"),
            stdin=subprocess.DEVNULL,
            env={**os.environ, **(env or {})},
        )
        for _ in range(100):
            if (
                subprocess.run(
                    ["ssh-keyscan", "-p", str(self.port), "127.0.0.1"], capture_output=True
                ).returncode
                == 0
            ):
                return
            time.sleep(0.1)
        raise RuntimeError("sshd did not start")

    def login(self, private_key: str, name: str = "key") -> subprocess.CompletedProcess:
        """``ssh -i`` with only that key; runs ``echo logged-in-NAME``."""
        key_file = self.workdir / f"id_{name}"
        key_file.write_text(private_key)
        key_file.chmod(0o600)
        return subprocess.run(
            [
                "ssh",
                "-i",
                str(key_file),
                "-o",
                "IdentitiesOnly=yes",
                "-o",
                "BatchMode=yes",
                "-o",
                "StrictHostKeyChecking=no",
                "-o",
                "UserKnownHostsFile=/dev/null",
                "-o",
                "PasswordAuthentication=no",
                "-p",
                str(self.port),
                f"{getpass.getuser()}@127.0.0.1",
                f"echo logged-in-{name}",
            ],
            capture_output=True,
            text=True,
            timeout=60,
            stdin=subprocess.DEVNULL,
        )

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)


class Guest:
    """One server's first boot: cloud-init fills the sshd's authorized_keys."""

    def __init__(self, api: ApiProcess, server_id: str, sshd: Sshd, workdir: pathlib.Path) -> None:
        workdir.mkdir(parents=True, exist_ok=True)
        self.api = api
        self.server_id = server_id
        self.sshd = sshd
        self.workdir = workdir
        #: what cloud-init found: meta_data.json keys, EC2 tree keys
        self.public_keys: list[str] = []
        self.ec2_public_keys: list[str] = []
        self.authorized_keys = ""

    def boot(self) -> Guest:
        self.sshd.authorized_keys.write_text("")
        with MetadataProxy(self.api, self.server_id) as proxy:
            result = subprocess.run(
                [
                    cloud_init_python(),
                    str(DRIVER),
                    proxy.url,
                    str(self.workdir),
                    str(self.sshd.authorized_keys),
                ],
                capture_output=True,
                text=True,
                timeout=120,
                stdin=subprocess.DEVNULL,
            )
        assert result.returncode == 0, f"cloud-init failed:\n{result.stderr[-4000:]}"
        found = json.loads(result.stdout)
        assert found["instance_id"] == self.server_id, found
        self.public_keys = found["public_keys"]
        self.ec2_public_keys = found["ec2_public_keys"]
        self.authorized_keys = found["authorized_keys"]
        return self

    def login(self, private_key: str, name: str = "key") -> subprocess.CompletedProcess:
        return self.sshd.login(private_key, name)
