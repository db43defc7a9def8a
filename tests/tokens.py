"""Tokens for the abuse cases: signed with moto's own Cognito key (so only the claims are wrong) or forged."""
import base64
import gzip
import json
import time
from pathlib import Path

import jwt
import moto
from cryptography.hazmat.primitives.asymmetric import rsa

MOTO_KEYS = Path(moto.__file__).parent / "cognitoidp" / "resources"
MOTO_KEY = json.loads(gzip.decompress((MOTO_KEYS / "jwks-private.json.gz").read_bytes()))


def claims_of(token: str) -> dict:
    return jwt.decode(token, options={"verify_signature": False})


def signed_by_pool(claims: dict, **changes) -> str:
    """A token signed with the pool's real key, with some claims changed (e.g. an `exp` in the past)."""
    return jwt.encode({**claims, **changes}, jwt.PyJWK(MOTO_KEY).key, algorithm="RS256",
                      headers={"kid": MOTO_KEY["kid"]})


def self_signed(claims: dict) -> str:
    """Well-formed RS256 with the pool's key id, signed by a key the attacker made."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return jwt.encode(claims, key, algorithm="RS256", headers={"kid": MOTO_KEY["kid"]})


def alg_none(claims: dict) -> str:
    def part(value: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()
    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(claims)}."


def expired(claims: dict) -> str:
    return signed_by_pool(claims, exp=int(time.time()) - 60)
