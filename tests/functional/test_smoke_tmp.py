from tests.conftest import fault

def test_create_list(client):
    r = client.post("/v2.1/os-keypairs", {"keypair": {"name": "a"}}, version="2.2")
    assert r.status_int == 201, r.body
    r = client.get("/v2.1/os-keypairs/nope")
    assert fault(r)[0] == "itemNotFound"
