"""Who may revoke: a request presenting the administrator's token as a bearer token (RFC 6750)."""

import secrets

# What a 401 names, so a client knows how to authenticate (RFC 7235 section 3.1).
CHALLENGE = {"WWW-Authenticate": "Bearer"}


def presents_admin_token(authorization: str | None, admin_token: str) -> bool:
    """True when the Authorization header is `Bearer <admin token>`. The scheme is case-insensitive
    (RFC 7235 section 2.1: `bearer` is as good as `Bearer`) and must be there: a bare token is refused, so
    a header meant for another scheme never passes. The token is compared in constant time."""
    scheme, _, presented = (authorization or "").strip().partition(" ")
    if scheme.lower() != "bearer":
        return False
    return secrets.compare_digest(presented.strip().encode(), admin_token.encode())
