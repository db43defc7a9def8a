"""Media bytes in S3, with signed URLs from S3, or from CloudFront when configured."""


class S3Blobs:
    def __init__(self, s3, bucket: str, cloudfront=None):
        self._s3 = s3
        self._bucket = bucket
        self._cloudfront = cloudfront

    def upload_form(self, key: str, content_type: str, size: int, expires_in: int) -> dict:
        return self._s3.generate_presigned_post(
            self._bucket, key, Fields={"Content-Type": content_type},
            Conditions=[{"Content-Type": content_type}, ["content-length-range", size, size]],
            ExpiresIn=expires_in)

    def download(self, key: str, path: str) -> None:
        self._s3.download_file(self._bucket, key, path)

    def upload(self, path: str, key: str, content_type: str) -> None:
        self._s3.upload_file(path, self._bucket, key, ExtraArgs={"ContentType": content_type})

    def delete(self, key: str) -> None:
        self._s3.delete_object(Bucket=self._bucket, Key=key)

    def url(self, key: str, expires_in: int, disposition: str | None = None) -> str:
        if self._cloudfront is not None:
            return self._cloudfront.url(key, expires_in, disposition)
        params = {"Bucket": self._bucket, "Key": key}
        if disposition:
            params["ResponseContentDisposition"] = disposition
        return self._s3.generate_presigned_url("get_object", Params=params, ExpiresIn=expires_in)
