"""Signed CloudFront URLs for media, when a stage serves media through its distribution."""
from datetime import UTC, datetime
from functools import cached_property
from urllib.parse import quote

from chalicelib import clock


class CloudFrontUrls:
    def __init__(self, domain: str, key_pair_id: str, private_key_pem):
        """`private_key_pem` is called once, on first use (it reads the key from SSM Parameter Store)."""
        self._domain = domain
        self._key_pair_id = key_pair_id
        self._private_key_pem = private_key_pem

    @cached_property
    def _signer(self):
        from botocore.signers import CloudFrontSigner
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import padding, rsa

        key = serialization.load_pem_private_key(self._private_key_pem(), password=None)
        if not isinstance(key, rsa.RSAPrivateKey):
            raise ValueError("CloudFront signs URLs with an RSA key")
        return CloudFrontSigner(self._key_pair_id, lambda message: key.sign(message, padding.PKCS1v15(), hashes.SHA1()))

    def url(self, key: str, expires_in: int, disposition: str | None = None) -> str:
        url = f"https://{self._domain}/{quote(key)}"
        if disposition:
            url += "?response-content-disposition=" + quote(disposition, safe="")
        return self._signer.generate_presigned_url(
            url, date_less_than=datetime.fromtimestamp(clock.now() + expires_in, UTC))
