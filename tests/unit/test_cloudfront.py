import base64
import json
from urllib.parse import parse_qs, urlparse

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from chalicelib import clock
from chalicelib.storage.cloudfront import CloudFrontUrls


def cloudfront_b64decode(text: str) -> bytes:
    return base64.b64decode(text.replace("-", "+").replace("_", "=").replace("~", "/"))


def test_signed_urls_verify_with_the_public_key_and_expire(monkeypatch):
    monkeypatch.setattr(clock, "now", lambda: 1_800_000_000.0)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    urls = CloudFrontUrls("d111.cloudfront.net", "K2ABC", lambda: pem)
    url = urls.url("media/m1/large.jpg", 900, 'attachment; filename="a b.pdf"')
    parsed = urlparse(url)
    query = parse_qs(parsed.query)
    assert parsed.netloc == "d111.cloudfront.net" and parsed.path == "/media/m1/large.jpg"
    assert query["Key-Pair-Id"] == ["K2ABC"] and query["Expires"] == ["1800000900"]
    assert query["response-content-disposition"] == ['attachment; filename="a b.pdf"']
    signed = url.split("&Expires=")[0]
    expiry = {"DateLessThan": {"AWS:EpochTime": 1800000900}}
    policy = json.dumps({"Statement": [{"Resource": signed, "Condition": expiry}]}, separators=(",", ":")).encode()
    key.public_key().verify(cloudfront_b64decode(query["Signature"][0]), policy, padding.PKCS1v15(), hashes.SHA1())
