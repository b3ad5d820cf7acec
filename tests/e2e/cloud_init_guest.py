"""Run cloud-init's OpenStack datasource and its authorized_keys writer.

Run by the interpreter of the installed ``cloud-init`` (Debian's
``/usr/bin/python3``), never imported by the suite::

    python3 cloud_init_guest.py METADATA_URL WORKDIR AUTHORIZED_KEYS

prints one JSON object: the instance id, the keys the datasource found in
``meta_data.json`` (``get_public_ssh_keys``), the keys of the EC2 tree, and
the ``authorized_keys`` text written by cloud-init's ``ssh_util``.

Two things are bent, and only these, because a test machine is not a guest:

* ``detect_openstack`` reads the machine's DMI product name, which says
  "not OpenStack" here; it is told yes.
* cloud-init (22.x) reads the EC2 tree of an OpenStack datasource from the
  fixed address 169.254.169.254, whatever ``metadata_urls`` says; the same
  function is called with the test's metadata address instead.

Everything else (discovery, crawl, key normalisation, the parsing and
rendering of ``authorized_keys`` lines) is cloud-init's own code.  The file
is written as ``ssh_util.setup_user_keys`` writes a user's file, minus its
lookup of the user's home in the machine's ``sshd_config``.
"""

import functools
import json
import logging
import os
import sys

from cloudinit import distros, helpers, sources, ssh_util, util
from cloudinit.sources import DataSourceOpenStack
from cloudinit.sources.helpers import ec2, openstack


def main(metadata_url, workdir, authorized_keys):
    logging.basicConfig(stream=sys.stderr, level=logging.DEBUG)
    DataSourceOpenStack.detect_openstack = lambda accept_oracle=False: True
    openstack.ec2.get_instance_metadata = functools.partial(
        ec2.get_instance_metadata, metadata_address=metadata_url
    )
    paths = helpers.Paths(
        {
            "cloud_dir": os.path.join(workdir, "var-lib-cloud"),
            "run_dir": os.path.join(workdir, "run-cloud-init"),
        }
    )
    sys_cfg = {
        "datasource_list": ["OpenStack"],
        "datasource": {
            "OpenStack": {
                "metadata_urls": [metadata_url],
                "max_wait": 30,
                "timeout": 10,
                "retries": 2,
                "apply_network_config": False,
            }
        },
    }
    distro = distros.fetch("debian")("debian", {}, paths)
    datasource = DataSourceOpenStack.DataSourceOpenStack(sys_cfg, distro, paths)
    if not datasource.get_data():
        raise SystemExit("cloud-init's OpenStack datasource found no metadata")
    keys = datasource.get_public_ssh_keys()

    # ssh_util.setup_user_keys, with the file named by the caller.
    parser = ssh_util.AuthKeyLineParser()
    entries = [parser.parse(str(key)) for key in keys]
    existing = ssh_util.parse_authorized_keys([authorized_keys])
    util.write_file(authorized_keys, ssh_util.update_authorized_keys(existing, entries), mode=0o600)
    ec2_metadata = datasource.ec2_metadata or {}
    print(
        json.dumps(
            {
                "instance_id": datasource.get_instance_id(),
                "public_keys": keys,
                "ec2_public_keys": sources.normalize_pubkey_data(ec2_metadata.get("public-keys")),
                "authorized_keys": util.load_file(authorized_keys),
            }
        )
    )


if __name__ == "__main__":
    main(*sys.argv[1:4])
