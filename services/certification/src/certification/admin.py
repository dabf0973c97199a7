"""Who may revoke: a request presenting the administrator's token as a bearer token (RFC 6750)."""

import secrets

from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

# What a 401 names, so a client knows how to authenticate (RFC 7235 section 3.1).
CHALLENGE = {"WWW-Authenticate": "Bearer"}
# The Authorization header read as RFC 7235 has it: the scheme in any case (`bearer` is as good as `Bearer`)
# and required, so a bare token, or a header meant for another scheme, presents nothing. It is also what
# names the token in the OpenAPI document, as its own scheme beside the states' keys.
ADMIN_BEARER = HTTPBearer(auto_error=False, scheme_name="adminToken",
                          description="The administrator's token (ADMIN_TOKEN), for revocation only.")


def presents_admin_token(credentials: HTTPAuthorizationCredentials | None, admin_token: str) -> bool:
    """True when the request's bearer token (`ADMIN_BEARER`) is the administrator's, compared in constant
    time."""
    if credentials is None:
        return False
    return secrets.compare_digest(credentials.credentials.strip().encode(), admin_token.encode())
