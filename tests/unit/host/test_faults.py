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
