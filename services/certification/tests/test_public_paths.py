"""What the API documents as public is what the production Ingress routes to the public host: /verify/...
and the JWKS (deploy/k8s/base/certification/ingress.yaml). Everything else stays inside the cluster."""

import pytest
from karmayogi_runtime.service import create_http_app

from certification.main import definition
from certification.settings import CertificationSettings
from certification_samples import ADMIN_TOKEN

pytestmark = pytest.mark.unit


def test_only_paths_the_public_host_routes_are_documented_as_public(tmp_path):
    settings = CertificationSettings(database_url="postgresql://certification@db/certification",
                                     kafka_bootstrap_servers="kafka:9092", admin_token=ADMIN_TOKEN,
                                     local_data_dir=str(tmp_path))
    paths = create_http_app(definition(settings)).openapi()["paths"]
    public = {path for path, operations in paths.items()
              if any("public" in operation.get("tags", ()) for operation in operations.values())}

    assert public == {"/verify/{certificate_id}", "/verify/{certificate_id}/status", "/verify/{certificate_id}/pdf",
                      "/.well-known/jwks.json"}
