"""The OpenAPI document names every answer a route gives, not only 200 and 422, so a client generated from it
knows a missing, revoked or refused certificate."""

import pytest
from karmayogi_runtime.service import create_http_app

from certification.main import definition
from certification.settings import CertificationSettings
from certification_samples import ADMIN_TOKEN

pytestmark = pytest.mark.unit


def test_each_route_documents_its_not_found_gone_unauthorised_and_conflict_answers(tmp_path):
    settings = CertificationSettings(database_url="postgresql://certification@db/certification",
                                     kafka_bootstrap_servers="kafka:9092", admin_token=ADMIN_TOKEN,
                                     local_data_dir=str(tmp_path))
    paths = create_http_app(definition(settings)).openapi()["paths"]
    answers = {(path, method): set(operation["responses"]) for path, operations in paths.items()
               for method, operation in operations.items()}

    expected = {
        ("/verify/{certificate_id}", "get"): {"200", "404", "422"},
        ("/verify/{certificate_id}/status", "get"): {"200", "404", "422"},
        ("/verify/{certificate_id}/pdf", "get"): {"200", "404", "410", "422"},
        ("/v1/certificates/{certificate_id}", "get"): {"200", "404", "422"},
        ("/v1/certificates/{certificate_id}/pdf", "get"): {"200", "404", "410", "422"},
        ("/v1/certificates/{certificate_id}/revocation", "post"): {"200", "401", "404", "409", "422"},
    }
    assert {route: answers[route] for route in expected} == expected
    assert all(operation["responses"][code]["description"] for operations in paths.values()
               for operation in operations.values() for code in operation["responses"])
