"""The credential: a W3C Verifiable Credential 2.0 in the Open Badges 3.0 shape (`OpenBadgeCredential`),
secured as a JWT signed with EdDSA (vc-jwt). Pure functions: keys and time are passed in."""

import json
from dataclasses import dataclass
from datetime import datetime

from cryptography.exceptions import InvalidSignature

from certification.keys import KeyRing, SigningKey, b64url, unb64url

CONTEXTS = ["https://www.w3.org/ns/credentials/v2", "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json"]


@dataclass(frozen=True)
class Facts:
    """What a certificate states."""

    certificate_id: str
    tenant: str
    employee_id: str
    employee_name: str
    course_id: str
    course_title: str
    competencies: tuple[str, ...]
    centre: str | None
    issued_at: datetime


def credential(facts: Facts, *, issuer_id: str, issuer_name: str, status_url: str) -> dict:
    return {
        "@context": CONTEXTS,
        "id": f"urn:uuid:{facts.certificate_id}",
        "type": ["VerifiableCredential", "OpenBadgeCredential"],
        "issuer": {"id": issuer_id, "type": ["Profile"], "name": issuer_name},
        "validFrom": facts.issued_at.isoformat().replace("+00:00", "Z"),
        "name": facts.course_title,
        "credentialSubject": {
            "type": ["AchievementSubject"],
            "name": facts.employee_name,
            "identifier": [{"type": "IdentityObject", "identityType": "identifier", "hashed": False,
                            "identityHash": f"{facts.tenant}:{facts.employee_id}"}],
            "achievement": {
                "id": f"urn:uuid:{facts.course_id}",
                "type": ["Achievement"],
                "name": facts.course_title,
                "description": f"Completed {facts.course_title}" + (f" at {facts.centre}" if facts.centre else ""),
                "criteria": {"narrative": "Attendance meeting the course's completion rule, or completion reported by iGOT."},
                "tag": list(facts.competencies),
            },
        },
        "credentialStatus": {"id": status_url, "type": "KarmayogiCertificateStatus"},
    }


def sign(claims: dict, key: SigningKey) -> str:
    header = {"alg": "EdDSA", "kid": key.kid, "typ": "vc+jwt"}
    signing_input = f"{_segment(header)}.{_segment(claims)}"
    return f"{signing_input}.{b64url(key.private.sign(signing_input.encode()))}"


def jwt_claims(document: dict, facts: Facts) -> dict:
    issued = int(facts.issued_at.timestamp())
    return {**document, "iss": document["issuer"]["id"], "jti": document["id"],
            "sub": facts.employee_id, "iat": issued, "nbf": issued}


def claims_of(token: str) -> dict:
    """The claims of a credential this service issued (stored, so its signature was made here)."""
    return json.loads(unb64url(token.split(".")[1]))


def issuer_name(token: str) -> str:
    """The issuer's name signed into a credential this service issued: what its certificate, page and PDF
    print, so they say what the credential says whatever the settings say later."""
    return claims_of(token)["issuer"]["name"]


@dataclass(frozen=True)
class Checked:
    """The outcome of checking a presented credential's signature (its issuer and status are looked up after)."""

    outcome: str  # valid | invalid_signature | unknown_key | malformed
    message: str
    claims: dict | None = None


def check(token: str, keys: KeyRing) -> Checked:
    try:
        header_text, payload_text, signature_text = token.strip().split(".")
        header = json.loads(unb64url(header_text))
        claims = json.loads(unb64url(payload_text))
        signature = unb64url(signature_text)
    except (ValueError, RecursionError):  # RecursionError: JSON nested deeper than the parser goes
        return Checked("malformed", "The credential is not a JWT (three base64url parts with JSON header and claims).")
    if not isinstance(header, dict):
        return Checked("malformed", "The credential's header must be a JSON object naming its algorithm and key.")
    if header.get("alg") != "EdDSA":
        return Checked("malformed", "The credential must be signed with EdDSA.")
    if not isinstance(claims, dict):
        return Checked("malformed", "The credential's claims must be a JSON object.")
    public = keys.public(str(header.get("kid")))
    if public is None:
        return Checked("unknown_key", f"The credential names key {str(header.get('kid'))[:80]!r}, which this issuer never published.")
    try:
        public.verify(signature, f"{header_text}.{payload_text}".encode())
    except InvalidSignature:
        return Checked("invalid_signature", "The signature does not match: the credential was altered or not signed by this issuer.")
    return Checked("valid", "The signature is valid.", claims)


def issuer_problem(claims: dict, state: str, issuer_id: str | None) -> str | None:
    """Why the credential's issuer is not the issuer of its certificate's state (`issuer_id`, None when the
    state has none configured), or None. One key signs for every state, so the signature alone does not say
    that a certificate is in its own state's name."""
    issued_by = str(claims.get("iss"))[:200]
    if issuer_id is None:
        return f"The credential was issued by {issued_by!r}, but no issuer is configured for {state}, its certificate's state."
    if claims.get("iss") != issuer_id:
        return f"The credential was issued by {issued_by!r}, not by {issuer_id}, the issuer of {state}'s certificates."
    return None


def _segment(value: dict) -> str:
    return b64url(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode())
