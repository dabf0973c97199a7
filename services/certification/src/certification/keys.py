"""Signing keys: Ed25519, each with a key id. The key SIGNING_KEY_ID names signs, or the last of the set;
every key stays published in the JWKS, so a certificate signed before a rotation keeps verifying.

A rotation takes two rollouts: first the new key is added to the set while SIGNING_KEY_ID keeps naming the
old one, so every replica publishes the new key before any signs with it; then SIGNING_KEY_ID names the
new key. A verifier holding the JWKS of an old replica never meets a kid it has not been shown."""

import base64
import json
import logging
import os
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from karmayogi_runtime.settings import CannotStart

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
    signing_kid: str | None = None  # None: the last key signs

    @property
    def current(self) -> SigningKey:
        """The key that signs."""
        if self.signing_kid is None:
            return self.keys[-1]
        return next(key for key in self.keys if key.kid == self.signing_kid)

    def public(self, kid: str) -> Ed25519PublicKey | None:
        return next((k.private.public_key() for k in self.keys if k.kid == kid), None)

    def jwks(self) -> dict:
        return {"keys": [key.public_jwk for key in self.keys]}


def new_key(now: datetime) -> dict:
    """A fresh private JWK, named by its creation time."""
    private = Ed25519PrivateKey.generate()
    return {"kty": "OKP", "crv": "Ed25519", "kid": f"ed25519-{now:%Y%m%dT%H%M%S}",
            "x": b64url(private.public_key().public_bytes_raw()), "d": b64url(private.private_bytes_raw())}


def parse(jwk_set, signing_kid: str | None = None) -> KeyRing:
    """The key ring of a private JWK Set, signing with `signing_kid` (None: the last key); a ValueError says
    what is wrong, never showing key material."""
    if not isinstance(jwk_set, dict) or not isinstance(jwk_set.get("keys", []), list):
        raise ValueError('it must be a JWK Set, {"keys": [...]}')
    keys = [_signing_key(jwk) for jwk in jwk_set.get("keys", [])]
    if not keys:
        raise ValueError("it holds no key")
    kids = [key.kid for key in keys]
    if repeated := sorted({kid for kid in kids if kids.count(kid) > 1}):
        # a verifier picks the public key by kid: two keys under one kid would fail one of them
        raise ValueError(f"two keys have the same kid {repeated[0]!r}; every key needs its own")
    if signing_kid is not None and signing_kid not in kids:
        raise ValueError(f"SIGNING_KEY_ID {signing_kid!r} names none of its keys ({', '.join(kids)})")
    return KeyRing(tuple(keys), signing_kid)


def _signing_key(jwk) -> SigningKey:
    if not isinstance(jwk, dict) or jwk.get("kty") != "OKP" or jwk.get("crv") != "Ed25519" or "d" not in jwk \
            or not isinstance(jwk.get("kid"), str) or not jwk["kid"]:
        raise ValueError("every signing key must be a private Ed25519 JWK (kty OKP, crv Ed25519, d, kid)")
    try:
        return SigningKey(jwk["kid"], Ed25519PrivateKey.from_private_bytes(unb64url(str(jwk["d"]))))
    except ValueError:  # not base64url, or not 32 bytes; its own message could quote the key
        raise ValueError(f"the private part (d) of key {jwk['kid']!r} is not 32 bytes of base64url") from None


def load(keys_file: str | None, local_data_dir: str, signing_kid: str | None = None) -> KeyRing:
    """The configured key set, or (local use) one generated once under LOCAL_DATA_DIR, signing with
    `signing_kid` (None: the last key). A file that cannot be used stops the start-up with one sentence
    naming it (`CannotStart`)."""
    path = Path(keys_file) if keys_file else _local_keys(Path(local_data_dir) / "certification" / "signing-keys.json")
    try:
        return parse(json.loads(path.read_text(encoding="utf-8")), signing_kid)
    except FileNotFoundError:
        raise CannotStart(f"The signing key file {path} does not exist; mount the private JWK Set there "
                          f"or correct SIGNING_KEYS_FILE.") from None
    except OSError as error:
        raise CannotStart(f"The signing key file {path} cannot be read: {error.strerror}.") from None
    except UnicodeDecodeError:
        raise CannotStart(f"The signing key file {path} is not UTF-8 text; it must be a JSON JWK Set.") from None
    except json.JSONDecodeError as error:  # its message names a position, never the text there
        raise CannotStart(f"The signing key file {path} is not valid JSON ({error.msg} at line {error.lineno}, "
                          f"column {error.colno}).") from None
    except ValueError as problem:
        raise CannotStart(f"The signing key file {path} cannot be used: {problem}.") from None


def _local_keys(path: Path) -> Path:
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"keys": [new_key(datetime.now(timezone.utc))]}))
        os.chmod(path, 0o600)
        log.warning("no CERTIFICATION_SIGNING_KEYS_FILE: generated a local signing key in %s (local use only)", path)
    return path
