"""What the API documents as public is what the production Ingress routes to the public host: /verify/...
and the JWKS (deploy/k8s/base/certification/ingress.yaml). Everything else stays inside the cluster."""

import pytest

from certification_samples import openapi_paths

pytestmark = pytest.mark.unit


def test_only_paths_the_public_host_routes_are_documented_as_public(tmp_path):
    paths = openapi_paths(tmp_path)
    public = {path for path, operations in paths.items()
              if any("public" in operation.get("tags", ()) for operation in operations.values())}

    assert public == {"/verify/{certificate_id}", "/verify/{certificate_id}/status", "/verify/{certificate_id}/pdf",
                      "/.well-known/jwks.json"}
