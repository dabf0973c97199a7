"""The OpenAPI document names every answer a route gives, not only 200 and 422, so a client generated from it
knows a missing, revoked or refused certificate."""

import pytest

from certification_samples import openapi_document, openapi_paths

pytestmark = pytest.mark.unit


def test_each_route_documents_its_not_found_gone_unauthorised_and_conflict_answers(tmp_path):
    paths = openapi_paths(tmp_path)
    answers = {(path, method): set(operation["responses"]) for path, operations in paths.items()
               for method, operation in operations.items()}

    expected = {
        ("/verify/{certificate_id}", "get"): {"200", "404"},
        ("/verify/{certificate_id}/status", "get"): {"200", "404"},
        ("/verify/{certificate_id}/pdf", "get"): {"200", "404", "410", "501"},
        ("/.well-known/jwks.json", "get"): {"200"},
        ("/v1/credentials/verify", "post"): {"200", "422"},
        ("/v1/certificates/{certificate_id}", "get"): {"200", "400", "401", "403", "404", "422"},
        ("/v1/certificates/{certificate_id}/pdf", "get"): {"200", "400", "401", "403", "404", "410", "501"},
        ("/v1/certificates/{certificate_id}/revocation", "post"): {"200", "401", "404", "409", "422"},
        ("/v1/states/{tenant}/certificates", "get"): {"200", "400", "401", "403", "422"},
        ("/v1/states/{tenant}/certificates/count", "get"): {"200", "400", "401", "403", "422"},
    }
    assert {route: answers[route] for route in expected} == expected
    assert paths["/verify/{certificate_id}/status"]["get"]["responses"]["404"]["description"] == (
        "No certificate has this id, or the id is not a certificate's")
    assert "wrong_issuer" in paths["/verify/{certificate_id}/status"]["get"]["description"]
    # The PDF's public link is opened in a browser: a page; a state system's route keeps its Problem.
    assert set(paths["/verify/{certificate_id}/pdf"]["get"]["responses"]["410"]["content"]) == {"text/html"}
    assert set(paths["/v1/certificates/{certificate_id}/pdf"]["get"]["responses"]["410"]["content"]) == {
        "application/json"}
    # A name its fonts cannot draw: a page on the public link, a Problem for a state system.
    assert set(paths["/verify/{certificate_id}/pdf"]["get"]["responses"]["501"]["content"]) == {"text/html"}
    assert set(paths["/v1/certificates/{certificate_id}/pdf"]["get"]["responses"]["501"]["content"]) == {
        "application/json"}
    # A cut-short SMS link gets the NOT FOUND page, as the verification page answers it.
    assert set(paths["/verify/{certificate_id}/pdf"]["get"]["responses"]["404"]["content"]) == {"text/html"}
    assert set(paths["/v1/certificates/{certificate_id}/pdf"]["get"]["responses"]["404"]["content"]) == {
        "application/json"}
    for path in ("/verify/{certificate_id}/pdf", "/v1/certificates/{certificate_id}/pdf"):
        assert set(paths[path]["get"]["responses"]["200"]["content"]) == {"application/pdf"}, path
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


def test_the_officers_lists_and_the_pages_language_are_described_for_a_client_generated_from_the_document(tmp_path):
    document = openapi_document(tmp_path)
    paths, schemas = document["paths"], document["components"]["schemas"]

    def answer(path: str) -> dict:
        reference = paths[path]["get"]["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
        return schemas[reference.rsplit("/", 1)[1]]

    listing = answer("/v1/states/{tenant}/certificates")
    item = schemas[listing["properties"]["items"]["items"]["$ref"].rsplit("/", 1)[1]]
    assert list(item["properties"]) == ["certificate_id", "employee_id", "employee_name", "course_id",
                                        "course_title", "issued_at", "status", "revoked_at", "revocation_reason",
                                        "verify_url"]
    assert item["properties"]["status"]["enum"] == ["valid", "wrong_issuer", "revoked"]
    assert all(word in item["properties"]["status"]["description"] for word in ("`valid`", "`wrong_issuer`", "`revoked`"))
    assert item["properties"]["issued_at"]["format"] == "date-time"
    count = answer("/v1/states/{tenant}/certificates/count")
    assert set(count["properties"]) == {"issued", "revoked"}
    assert all(field["description"] for field in count["properties"].values())

    listed = paths["/v1/states/{tenant}/certificates"]["get"]
    described = {parameter["name"]: parameter.get("description") for parameter in listed["parameters"]}
    assert described["limit"] and "`next` of the page before" in described["after"] and "offset" not in described
    assert "Pass a page's `next` as `after`" in listed["description"] and "none twice, none missed" in listed["description"]
    assert "offset" not in listed["description"]
    assert listing["required"] == ["items", "next"] and "null on the last page" in listing["properties"]["next"]["description"]

    # Any text is taken (a language the page lacks is answered in English), so no enum and no 422.
    for path in ("/verify/{certificate_id}", "/verify/{certificate_id}/pdf"):
        [lang] = [parameter for parameter in paths[path]["get"]["parameters"] if parameter["name"] == "lang"]
        assert "`en` or `hi`" in lang["description"] and "Accept-Language" in lang["description"], path
        assert {"type": "string"} in lang["schema"]["anyOf"] and "422" not in paths[path]["get"]["responses"], path
