"""Media items in DynamoDB and the S3 upload policy, on moto."""
import base64
import json

import boto3
import pytest
from botocore.config import Config

from chalicelib.model import Media, Rendition
from chalicelib.storage.dynamodb.media import DynamoMediaStore
from chalicelib.storage.s3 import S3Blobs


@pytest.fixture
def blobs(aws):
    return S3Blobs(boto3.client("s3", config=Config(signature_version="s3v4")), aws["MEDIA_BUCKET"])


def test_the_upload_policy_binds_key_type_size_and_expiry(blobs):
    form = blobs.upload_form("uploads/abc", "image/png", 1234, 600)
    policy = json.loads(base64.b64decode(form["fields"]["policy"]))
    assert {"key": "uploads/abc"} in policy["conditions"]
    assert {"Content-Type": "image/png"} in policy["conditions"]
    assert ["content-length-range", 1234, 1234] in policy["conditions"]
    assert form["fields"]["x-amz-algorithm"] == "AWS4-HMAC-SHA256"  # SigV4, not the SigV2 default here
    assert policy["expiration"]


def test_download_urls_are_signed_and_short_lived(blobs):
    url = blobs.url("media/x/thumb.jpg", 900, 'attachment; filename="a.pdf"')
    assert "X-Amz-Signature=" in url and "X-Amz-Expires=900" in url and "response-content-disposition" in url


def test_media_settles_once(aws):
    store = DynamoMediaStore(boto3.resource("dynamodb"), aws["MEDIA_TABLE"])
    media = Media("m1", "direct:a:b", "a", "p.jpg", "image/jpeg", 10, "image", "t", upload_key="uploads/m1")
    store.put(media)
    media.status, media.width, media.duration = "ready", 640, 1.5
    media.variants = {"thumb": Rendition("media/m1/thumb.jpg", "image/jpeg", 96, 96)}
    assert store.settle(media) is True
    assert store.settle(media) is False
    stored = store.get_many(["m1", "missing"])["m1"]
    assert stored.variants["thumb"] == Rendition("media/m1/thumb.jpg", "image/jpeg", 96, 96)
    assert (stored.status, stored.width, stored.duration) == ("ready", 640, 1.5)
