"""Signing keys: Ed25519, each with a key id. The newest signs; every key stays published in the JWKS,
so a certificate signed before a rotation keeps verifying."""

import base64
import json
import logging
import os
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

log = logging.getLogger(__name__)


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True)
class SigningKey:
    kid: str
    private: Ed25519PrivateKey

    @property
    def public_jwk(self) -> dict:
        raw = self.private.public_key().public_bytes_raw()
        return {"kty": "OKP", "crv": "Ed25519", "x": b64url(raw), "kid": self.kid, "alg": "EdDSA", "use": "sig"}


@dataclass(frozen=True)
class KeyRing:
    keys: tuple[SigningKey, ...]

    @property
    def current(self) -> SigningKey:
        return self.keys[-1]

    def public(self, kid: str) -> Ed25519PublicKey | None:
        return next((k.private.public_key() for k in self.keys if k.kid == kid), None)

    def jwks(self) -> dict:
        return {"keys": [key.public_jwk for key in self.keys]}


def new_key(now: datetime) -> dict:
    """A fresh private JWK, named by its creation time."""
    private = Ed25519PrivateKey.generate()
    return {"kty": "OKP", "crv": "Ed25519", "kid": f"ed25519-{now:%Y%m%dT%H%M%S}",
            "x": b64url(private.public_key().public_bytes_raw()), "d": b64url(private.private_bytes_raw())}


def parse(jwk_set: dict) -> KeyRing:
    keys = []
    for jwk in jwk_set.get("keys", []):
        if jwk.get("kty") != "OKP" or jwk.get("crv") != "Ed25519" or "d" not in jwk or "kid" not in jwk:
            raise ValueError("every signing key must be a private Ed25519 JWK (kty OKP, crv Ed25519, d, kid)")
        keys.append(SigningKey(jwk["kid"], Ed25519PrivateKey.from_private_bytes(unb64url(jwk["d"]))))
    if not keys:
        raise ValueError("the signing key set is empty")
    return KeyRing(tuple(keys))


def load(keys_file: str | None, local_data_dir: str) -> KeyRing:
    """The configured key set, or (local use) one generated once under LOCAL_DATA_DIR."""
    if keys_file:
        return parse(json.loads(Path(keys_file).read_text()))
    path = Path(local_data_dir) / "certification" / "signing-keys.json"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"keys": [new_key(datetime.now(timezone.utc))]}))
        os.chmod(path, 0o600)
        log.warning("no CERTIFICATION_SIGNING_KEYS_FILE: generated a local signing key in %s (local use only)", path)
    return parse(json.loads(path.read_text()))
