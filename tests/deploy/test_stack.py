"""infra/parley.yaml on moto's CloudFormation: through devstack.aws.deploy (as the local stack and the app's
tests use it), and through the deploy tool's own create / update / delete."""
import json
from urllib.parse import unquote_plus

import pytest

from deploy import moto_gaps, push_apps
from deploy.outputs import REQUIRED_OUTPUTS, env_name
from deploy.stack import Stack, cloudfront_public_key
from tests.deploy.conftest import STAGE

# What moto 5.2.5's CloudFormation does not create (with a warning), and how the local stack copes.
SKIPPED_BY_MOTO = {
    "AWS::Cognito::UserPool",  # devstack/aws.py creates the pool and its client through the API
    "AWS::Cognito::UserPoolClient",
    "AWS::SQS::QueuePolicy",  # moto enforces no policy
    "AWS::S3::BucketPolicy",
    "AWS::CloudWatch::Alarm",  # nothing to watch locally
}


def test_devstack_deploy_gives_the_app_every_variable_it_needs(local_stack):
    env, outputs = local_stack
    for key in REQUIRED_OUTPUTS:
        assert env.get(env_name(key)), key
    assert env["FANOUT_QUEUE_NAME"] == f"parley-{STAGE}-fanout"
    assert env["MEDIA_EVENTS_QUEUE_NAME"] == f"parley-{STAGE}-media-events"
    assert env["MEDIA_TABLE"] == f"parley-{STAGE}-media"
    assert "CLOUD_FRONT_DOMAIN" not in env  # EnableCloudFront is off by default


def test_the_resources_exist_as_declared(local_stack, aws):
    env, _ = local_stack
    dynamodb, sqs, s3 = aws.client("dynamodb"), aws.client("sqs"), aws.client("s3")
    media = dynamodb.describe_table(TableName=env["MEDIA_TABLE"])["Table"]
    assert media["KeySchema"] == [{"AttributeName": "media_id", "KeyType": "HASH"}]
    assert media["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    chats = dynamodb.describe_table(TableName=env["CHATS_TABLE"])["Table"]
    assert [index["IndexName"] for index in chats["GlobalSecondaryIndexes"]] == ["by_member"]
    for queue, receives in (("FANOUT", 5), ("MEDIA_EVENTS", 3)):
        attributes = sqs.get_queue_attributes(QueueUrl=env[f"{queue}_QUEUE_URL"], AttributeNames=["All"])["Attributes"]
        assert attributes["QueueArn"] == env[f"{queue}_QUEUE_ARN"]
        redrive = json.loads(attributes["RedrivePolicy"])
        assert redrive["maxReceiveCount"] == receives and redrive["deadLetterTargetArn"].endswith("-dlq")
        assert attributes["SqsManagedSseEnabled"] == "true"
    encryption = s3.get_bucket_encryption(Bucket=env["MEDIA_BUCKET"])["ServerSideEncryptionConfiguration"]
    assert encryption["Rules"][0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"


def test_moto_skips_only_what_the_local_stack_does_without(local_stack, aws):
    resources = aws.client("cloudformation").list_stack_resources(StackName=f"parley-{STAGE}")[
        "StackResourceSummaries"]
    created = {resource["LogicalResourceId"] for resource in resources}
    from deploy.template import load
    declared = {name: resource for name, resource in load()["Resources"].items()
                if "Condition" not in resource}  # CloudFront is off locally
    skipped = {resource["Type"] for name, resource in declared.items() if name not in created}
    assert skipped == SKIPPED_BY_MOTO


def test_uploads_reach_the_media_queue_once_the_bucket_settings_moto_skips_are_applied(local_stack, aws):
    env, _ = local_stack
    s3, sqs = aws.client("s3"), aws.client("sqs")
    # Idempotent: devstack.aws.deploy may already apply some of these (it does the notification).
    assert moto_gaps.apply_bucket_settings(s3, env) == [env["MEDIA_BUCKET"]]

    assert s3.get_bucket_cors(Bucket=env["MEDIA_BUCKET"])["CORSRules"][0]["AllowedMethods"] == ["POST", "GET", "HEAD"]
    rules = s3.get_bucket_lifecycle_configuration(Bucket=env["MEDIA_BUCKET"])["Rules"]
    assert {rule["ID"] for rule in rules} == {"AbortIncompleteMultipartUploads", "ExpireRawUploads",
                                              "ExpireDataExports"}
    assert all(s3.get_public_access_block(Bucket=env["MEDIA_BUCKET"])["PublicAccessBlockConfiguration"].values())
    s3.put_object(Bucket=env["MEDIA_BUCKET"], Key="uploads/m_1/photo.jpg", Body=b"\xff\xd8\xff")
    s3.put_object(Bucket=env["MEDIA_BUCKET"], Key="media/m_1/thumb.jpg", Body=b"\xff\xd8\xff")
    bodies = [json.loads(message["Body"]) for message in sqs.receive_message(
        QueueUrl=env["MEDIA_EVENTS_QUEUE_URL"], MaxNumberOfMessages=10)["Messages"]]
    keys = [unquote_plus(record["s3"]["object"]["key"]) for body in bodies for record in body.get("Records", [])]
    assert keys == ["uploads/m_1/photo.jpg"]  # keys arrive URL-encoded; the s3:TestEvent has no Records


def test_the_deploy_tool_creates_updates_and_deletes_the_stack_keeping_user_data(aws):
    stack = Stack(aws, "t1")
    outputs = stack.deploy({"Stage": "t1", "EnableCloudFront": "false"})
    assert outputs["MediaTable"] == "parley-t1-media" and outputs["FanoutQueueName"] == "parley-t1-fanout"
    assert stack.deploy({"Stage": "t1", "EnableCloudFront": "false"}) == outputs  # an update
    kept = stack.retained(outputs)  # moto's stack has no user pool: on AWS, UserPoolId is kept too
    assert set(kept) == {"UsersTable", "ChatsTable", "MessagesTable", "MediaTable", "MediaBucket"}
    assert set(stack.retained({**outputs, "UserPoolId": "p", "CloudFrontPrivateKeyParameter": "/k"})) == {
        *kept, "UserPoolId", "CloudFrontPrivateKeyParameter"}

    stack.delete()
    assert stack.describe() is None
    dynamodb, s3 = aws.client("dynamodb"), aws.client("s3")
    assert sorted(dynamodb.list_tables()["TableNames"]) == sorted(
        f"parley-t1-{name}" for name in ("users", "chats", "messages", "media"))  # not connections
    assert [bucket["Name"] for bucket in s3.list_buckets()["Buckets"]] == [outputs["MediaBucket"]]

    s3.put_object(Bucket=outputs["MediaBucket"], Key="media/x", Body=b"x")
    cognito = aws.client("cognito-idp")
    pool_id = cognito.create_user_pool(PoolName="parley-t1")["UserPool"]["Id"]
    stack.purge({**kept, "UserPoolId": pool_id})
    assert dynamodb.list_tables()["TableNames"] == []
    assert s3.list_buckets()["Buckets"] == []
    assert cognito.list_user_pools(MaxResults=10)["UserPools"] == []


def test_a_stack_that_failed_to_create_is_not_updated(aws, monkeypatch):
    stack = Stack(aws, "t2")
    monkeypatch.setattr(stack, "describe", lambda: {"StackStatus": "ROLLBACK_COMPLETE"})
    with pytest.raises(SystemExit, match="rolled back"):
        stack.deploy({"Stage": "t2"})


def test_the_cloudfront_signing_key_is_made_once_and_kept_in_ssm(aws):
    first = cloudfront_public_key(aws, "t3")
    assert first.startswith("-----BEGIN PUBLIC KEY-----")
    assert cloudfront_public_key(aws, "t3") == first
    parameter = aws.client("ssm").get_parameter(Name="/parley/t3/cloudfront-private-key", WithDecryption=True)
    assert parameter["Parameter"]["Type"] == "SecureString"
    assert "PRIVATE KEY" in parameter["Parameter"]["Value"]


def test_push_applications_are_made_from_the_deployers_secrets_updated_and_removed(aws):
    secrets, sns = aws.client("secretsmanager"), aws.client("sns")
    assert push_apps.ensure(aws, "t4") == {"ApnsApplicationArn": "", "FcmApplicationArn": ""}  # no secrets yet
    secrets.create_secret(Name="parley/t4/apns", SecretString=json.dumps(
        {"signing_key": "-----BEGIN PRIVATE KEY-----x", "key_id": "K1", "team_id": "T1", "bundle_id": "com.x",
         "sandbox": True}))
    secrets.create_secret(Name="parley/t4/fcm", SecretString=json.dumps({"type": "service_account",
                                                                         "project_id": "p"}))
    first = push_apps.ensure(aws, "t4")
    assert ":app/APNS_SANDBOX/parley-t4-apns" in first["ApnsApplicationArn"]
    assert ":app/GCM/parley-t4-fcm" in first["FcmApplicationArn"]
    secrets.put_secret_value(SecretId="parley/t4/apns", SecretString=json.dumps(
        {"signing_key": "-----BEGIN PRIVATE KEY-----y", "key_id": "K2", "team_id": "T1", "bundle_id": "com.x"}))
    second = push_apps.ensure(aws, "t4")  # to production: the sandbox application goes
    assert ":app/APNS/parley-t4-apns" in second["ApnsApplicationArn"]
    assert second["FcmApplicationArn"] == first["FcmApplicationArn"]
    attributes = sns.get_platform_application_attributes(PlatformApplicationArn=second["ApnsApplicationArn"])
    assert attributes["Attributes"]["PlatformPrincipal"] == "K2"
    assert len(sns.list_platform_applications()["PlatformApplications"]) == 2
    push_apps.remove(aws, "t4")
    assert sns.list_platform_applications()["PlatformApplications"] == []


def test_a_malformed_push_secret_stops_the_deploy(aws):
    aws.client("secretsmanager").create_secret(Name="parley/t5/fcm", SecretString=json.dumps({"key": "x"}))
    with pytest.raises(SystemExit, match="service account"):
        push_apps.ensure(aws, "t5")


def test_moderators_list_reports_newest_first(local_stack, aws, capsys):
    from chalicelib.storage.dynamodb.reports import DynamoReportStore
    from deploy.__main__ import main

    env, _ = local_stack
    store = DynamoReportStore(aws.resource("dynamodb"), env["CHATS_TABLE"])
    for i in range(3):
        store.add({"report_id": f"r{i}", "reporter_id": "ann", "chat_id": "group:g", "seq": i + 1, "reason": "spam",
                   "reported_at": f"2030-01-01T00:00:0{i}.000Z", "messages": [{"seq": i + 1, "text": "buy"}]})
    main(["reports", "--stage", STAGE, "--region", "us-east-1", "--limit", "2"])
    out, err = capsys.readouterr()
    assert [json.loads(line)["report_id"] for line in out.splitlines()] == ["r2", "r1"]
    assert "--before 2030-01-01T00:00:01.000Z" in err
