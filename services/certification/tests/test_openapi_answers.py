"""The OpenAPI document names every answer a route gives, not only 200 and 422, so a client generated from it
knows a missing, revoked or refused certificate."""

import pytest

from certification_samples import openapi_paths

pytestmark = pytest.mark.unit


def test_each_route_documents_its_not_found_gone_unauthorised_and_conflict_answers(tmp_path):
    paths = openapi_paths(tmp_path)
    answers = {(path, method): set(operation["responses"]) for path, operations in paths.items()
               for method, operation in operations.items()}

    expected = {
        ("/verify/{certificate_id}", "get"): {"200", "404"},
        ("/verify/{certificate_id}/status", "get"): {"200", "404"},
        ("/verify/{certificate_id}/pdf", "get"): {"200", "404", "410"},
        ("/.well-known/jwks.json", "get"): {"200"},
        ("/v1/credentials/verify", "post"): {"200", "422"},
        ("/v1/certificates/{certificate_id}", "get"): {"200", "401", "403", "404", "422"},
        ("/v1/certificates/{certificate_id}/pdf", "get"): {"200", "401", "403", "404", "410"},
        ("/v1/certificates/{certificate_id}/revocation", "post"): {"200", "401", "404", "409", "422"},
        ("/v1/states/{tenant}/certificates", "get"): {"200", "401", "403", "422"},
        ("/v1/states/{tenant}/certificates/count", "get"): {"200", "401", "403", "422"},
    }
    assert {route: answers[route] for route in expected} == expected
    assert paths["/verify/{certificate_id}/status"]["get"]["responses"]["404"]["description"] == (
        "No certificate has this id, or the id is not a certificate's")
    assert "wrong_issuer" in paths["/verify/{certificate_id}/status"]["get"]["description"]
    # The PDF's public link is opened in a browser: a page; a state system's route keeps its Problem.
    assert set(paths["/verify/{certificate_id}/pdf"]["get"]["responses"]["410"]["content"]) == {"text/html"}
    assert set(paths["/v1/certificates/{certificate_id}/pdf"]["get"]["responses"]["410"]["content"]) == {
        "application/json"}
    assert all(operation["responses"][code]["description"] for operations in paths.values()
               for operation in operations.values() for code in operation["responses"])


def test_only_the_routes_of_a_states_systems_and_officers_ask_for_a_states_key(tmp_path):
    paths = openapi_paths(tmp_path)
    keyed = {(path, method) for path, operations in paths.items() for method, operation in operations.items()
             if operation.get("security") == [{"stateKey": []}]}

    assert keyed == {("/v1/certificates/{certificate_id}", "get"), ("/v1/certificates/{certificate_id}/pdf", "get"),
                     ("/v1/states/{tenant}/certificates", "get"), ("/v1/states/{tenant}/certificates/count", "get")}
    revocation = paths["/v1/certificates/{certificate_id}/revocation"]["post"]
    assert revocation["security"] == [{"adminToken": []}]  # its own scheme, so /docs can send the token
    assert [p["name"] for p in revocation.get("parameters", ())] == ["certificate_id"]  # not an Authorization header
