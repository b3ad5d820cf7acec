"""Tempest's own keypair tests against keypairs-api, through a real Keystone.

Tempest (its own virtualenv, ``.ci/e2e-tools.sh``) logs in to Keystone as
admin, creates a project and users per credential type (dynamic
credentials), finds the compute endpoint in the catalog and runs
``tempest.api.compute.keypairs`` and
``tempest.api.compute.admin.test_keypairs_v210``: 19 tests of tempest 47.0.0,
every one of which must pass (none failed, none skipped). The operator's
version of this check is doc/source/user/tempest.rst.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.conftest import ComputeCloud
from tests.e2e.tempest_config import KEYPAIR_MODULES, run_keypair_tests, short_id

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("keystone")]

#: what tempest 47.0.0 runs with KEYPAIR_TESTS
EXPECTED_TESTS = 19


def test_tempest_keypair_tests_pass(
    tempest_tools: None, compute_cloud: ComputeCloud, tmp_path: Path
) -> None:
    result = run_keypair_tests(
        compute_cloud.keystone, tmp_path / "tempest", region=compute_cloud.region
    )
    assert result.ok, result.summary()
    assert (result.failed, result.skipped) == (0, 0), result.summary()
    assert result.passed == EXPECTED_TESTS, result.summary()
    modules = {short_id(test).rsplit(".", 2)[0] for test in result.tests}
    assert modules == set(KEYPAIR_MODULES), result.summary()
