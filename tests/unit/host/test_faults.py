import pytest

from keypairs_ext import exception
from keypairs_ext.host import contract, faults


@pytest.mark.parametrize(
    ("error", "status", "name"),
    [
        (contract.Invalid("x"), 400, "badRequest"),
        (contract.Forbidden("x"), 403, "forbidden"),
        (contract.QuotaExceeded("x"), 403, "forbidden"),
        (contract.NotFound("x"), 404, "itemNotFound"),
        (contract.Conflict("x"), 409, "conflictingRequest"),
        (contract.NotAcceptable("x"), 406, "computeFault"),
        (contract.ServiceUnavailable("x"), 503, "serviceUnavailable"),
        (contract.APIError("x"), 500, "computeFault"),
        (exception.KeypairExists("k"), 409, "conflictingRequest"),
        (exception.KeypairLimitExceeded(), 403, "forbidden"),
        (exception.InvalidKeypair("bad"), 400, "badRequest"),
        (exception.KeypairNotFound("k", "u"), 404, "itemNotFound"),
    ],
)
def test_one_table_maps_errors_to_faults(error, status, name):
    assert faults.status_of(error) == status
    assert faults.fault_body(status, str(error)) == {name: {"code": status, "message": str(error)}}


def test_domain_messages():
    assert str(exception.KeypairExists("kp")) == "Key pair 'kp' already exists."
    assert str(exception.KeypairLimitExceeded()) == "Quota exceeded, too many key pairs."
    assert str(exception.InvalidKeyName()) == "Invalid key_name provided."
    assert str(exception.InvalidKeypair("too short")) == "Keypair data is invalid: too short"


@pytest.mark.parametrize(
    ("status", "name"),
    [(413, "overLimit"), (405, "badMethod"), (415, "badMediaType"), (401, "unauthorized")],
)
def test_fault_names_follow_compute(status, name):
    assert list(faults.fault_body(status, "m")) == [name]


def test_the_hosts_own_errors_are_in_the_same_table():
    from oslo_policy import policy as oslo_policy

    from keypairs_ext.host.router import MethodNotAllowed
    from keypairs_ext.host.serialize import UnsupportedMediaType

    assert faults.fault_for(faults.HTTPFault(413, "Request is too large.")) == faults.Fault(
        413, "Request is too large."
    )
    unauthorized = faults.fault_for(faults.Unauthorized())
    assert (unauthorized.status, unauthorized.versioned) == (401, False)
    not_allowed = faults.fault_for(MethodNotAllowed(["GET", "POST"]))
    assert (not_allowed.status, dict(not_allowed.headers)) == (405, {"Allow": "GET, POST"})
    assert faults.fault_for(UnsupportedMediaType("Unsupported Content-Type a/b")) == (
        faults.Fault(415, "Unsupported Content-Type a/b")
    )
    refused = oslo_policy.PolicyNotAuthorized("os_compute_api:os-keypairs:create", {}, {})
    assert faults.fault_for(refused) == faults.Fault(
        403, "Policy doesn't allow os_compute_api:os-keypairs:create to be performed."
    )


def test_a_database_error_is_a_503_only_when_the_database_cannot_serve():
    import sqlalchemy as sa
    from oslo_db import exception as db_exc

    lost = db_exc.DBConnectionError(sa.exc.OperationalError("SELECT 1", {}, Exception("gone")))
    assert faults.fault_for(lost).status == 503
    # A database error that is not about availability is a bug: no fault, a 500.
    assert faults.fault_for(db_exc.DBError(ValueError("bad"))) is None
    assert faults.fault_for(ValueError("bad")) is None
