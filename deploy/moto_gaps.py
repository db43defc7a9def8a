"""What moto's CloudFormation skips in infra/parley.yaml, applied through the S3 API instead.

moto 5.2.5 creates `AWS::S3::Bucket` with its name, encryption and tags only: CORS, the lifecycle rules,
the public access block and the S3 -> SQS notification are dropped without a word. The local stack needs
the notification (uploads reach `process_media` through MediaEventsQueue) and CORS (the browser POSTs
uploads to moto); the rest is applied so that local reads of the bucket's settings match AWS.

Everything is read from the template, so the local stack follows it when it changes:

    from deploy.moto_gaps import apply_bucket_settings
    apply_bucket_settings(boto3.client("s3", region_name=REGION, endpoint_url=endpoint), env)

where `env` is the environment `devstack.aws.deploy` builds from the stack's outputs (it names the bucket
`MEDIA_BUCKET` and the queue `MEDIA_EVENTS_QUEUE_ARN`). Other resources moto skips and that the local stack
does not need: the SQS queue policy and the bucket policy (moto enforces no policy), CloudFront (off unless
EnableCloudFront), CloudWatch alarms, and Cognito (devstack/aws.py creates the pool and client by API).
"""
from deploy import template as infra
from deploy.outputs import env_name


def _queue_arn(reference: str, env: dict[str, str]) -> str:
    """`MediaEventsQueue.Arn` (how the loader reads `!GetAtt MediaEventsQueue.Arn`) -> its ARN from env."""
    logical, _, attribute = reference.partition(".")
    return env[f"{env_name(logical)}_{attribute.upper()}"]


def cors(properties: dict) -> dict | None:
    rules = properties.get("CorsConfiguration", {}).get("CorsRules")
    if not rules:
        return None
    renamed = {"Id": "ID", "ExposedHeaders": "ExposeHeaders", "MaxAge": "MaxAgeSeconds"}
    return {"CORSRules": [{renamed.get(key, key): value for key, value in rule.items()} for rule in rules]}


def lifecycle(properties: dict) -> dict | None:
    rules = properties.get("LifecycleConfiguration", {}).get("Rules")
    if not rules:
        return None
    converted = []
    for rule in rules:
        api = {"ID": rule["Id"], "Status": rule["Status"], "Filter": {"Prefix": rule.get("Prefix", "")}}
        if "ExpirationInDays" in rule:
            api["Expiration"] = {"Days": int(rule["ExpirationInDays"])}
        if "AbortIncompleteMultipartUpload" in rule:
            api["AbortIncompleteMultipartUpload"] = {
                "DaysAfterInitiation": int(rule["AbortIncompleteMultipartUpload"]["DaysAfterInitiation"])}
        converted.append(api)
    return {"Rules": converted}


def notifications(properties: dict, env: dict[str, str]) -> dict | None:
    queues = properties.get("NotificationConfiguration", {}).get("QueueConfigurations")
    if not queues:
        return None
    return {"QueueConfigurations": [{
        "QueueArn": _queue_arn(queue["Queue"], env),
        "Events": [queue["Event"]],
        **({"Filter": {"Key": {"FilterRules": queue["Filter"]["S3Key"]["Rules"]}}} if "Filter" in queue else {}),
    } for queue in queues]}


def apply_bucket_settings(s3, env: dict[str, str], template: dict | None = None) -> list[str]:
    """Apply each template bucket's CORS, lifecycle, public access block and queue notifications; answer
    the bucket names done."""
    template = template or infra.load()
    done = []
    for logical, resource in template["Resources"].items():
        if resource["Type"] != "AWS::S3::Bucket":
            continue
        bucket, properties = env[env_name(logical)], resource.get("Properties", {})
        if (rules := cors(properties)) is not None:
            s3.put_bucket_cors(Bucket=bucket, CORSConfiguration=rules)
        if (rules := lifecycle(properties)) is not None:
            s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration=rules)
        if "PublicAccessBlockConfiguration" in properties:
            s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration={
                key: bool(value) for key, value in properties["PublicAccessBlockConfiguration"].items()})
        if (config := notifications(properties, env)) is not None:
            s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration=config)
        done.append(bucket)
    return done
