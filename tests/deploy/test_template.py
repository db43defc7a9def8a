"""infra/parley.yaml: cfn-lint clean, and the properties the app and the deploy tool rely on."""
from pathlib import Path

from cfnlint.api import lint_file

from deploy import template
from deploy.functions import FUNCTIONS
from deploy.outputs import REQUIRED_OUTPUTS

ROOT = Path(__file__).resolve().parents[2]
INFRA = template.load()
RESOURCES = INFRA["Resources"]


def test_cfn_lint_is_clean_including_informational_checks():
    from cfnlint.api import ManualArgs

    problems = lint_file(ROOT / "infra" / "parley.yaml", config=ManualArgs(include_checks=["I"]))
    assert [str(problem) for problem in problems] == []


def test_the_outputs_the_app_needs_are_declared():
    assert set(REQUIRED_OUTPUTS) <= set(INFRA["Outputs"])
    for optional in ("CloudFrontDomain", "CloudFrontKeyPairId", "CloudFrontPrivateKeyParameter"):
        assert INFRA["Outputs"][optional]["Condition"] == "UseCloudFront"


def test_user_data_survives_stack_deletion_and_replacement():
    for name in ("UsersTable", "ChatsTable", "MessagesTable", "MediaTable", "MediaBucket", "UserPool"):
        assert RESOURCES[name]["DeletionPolicy"] == "Retain", name
        assert RESOURCES[name]["UpdateReplacePolicy"] == "Retain", name
    for name in ("UsersTable", "ChatsTable", "MessagesTable", "MediaTable"):
        assert RESOURCES[name]["Properties"]["PointInTimeRecoverySpecification"] == {
            "PointInTimeRecoveryEnabled": True}, name
        assert RESOURCES[name]["Properties"]["BillingMode"] == "PAY_PER_REQUEST"


def test_media_table_is_keyed_by_media_id_and_indexed_by_uploader():
    properties = RESOURCES["MediaTable"]["Properties"]
    assert properties["KeySchema"] == [{"AttributeName": "media_id", "KeyType": "HASH"}]
    assert {d["AttributeName"] for d in properties["AttributeDefinitions"]} == {"media_id", "uploader_id"}
    (index,) = properties["GlobalSecondaryIndexes"]
    assert (index["IndexName"], index["Projection"]) == ("by_uploader", {"ProjectionType": "KEYS_ONLY"})


def test_media_bucket_is_private_encrypted_and_takes_browser_posts():
    bucket = RESOURCES["MediaBucket"]["Properties"]
    assert all(bucket["PublicAccessBlockConfiguration"].values())
    assert len(bucket["PublicAccessBlockConfiguration"]) == 4
    assert bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"]
    (rule,) = bucket["CorsConfiguration"]["CorsRules"]
    assert "POST" in rule["AllowedMethods"] and rule["AllowedOrigins"] == ["*"]
    rules = {rule["Id"]: rule for rule in bucket["LifecycleConfiguration"]["Rules"]}
    assert rules["AbortIncompleteMultipartUploads"]["AbortIncompleteMultipartUpload"]["DaysAfterInitiation"] >= 1
    assert rules["ExpireRawUploads"]["Prefix"] == "uploads/" and rules["ExpireRawUploads"]["ExpirationInDays"] == 2


def test_uploads_notify_the_media_queue_which_lets_only_this_bucket_send():
    (notification,) = RESOURCES["MediaBucket"]["Properties"]["NotificationConfiguration"]["QueueConfigurations"]
    assert notification["Event"] == "s3:ObjectCreated:*"
    assert notification["Queue"] == "MediaEventsQueue.Arn"
    assert notification["Filter"]["S3Key"]["Rules"] == [{"Name": "prefix", "Value": "uploads/"}]
    # S3 checks its permission on the queue when the notification is configured.
    assert RESOURCES["MediaBucket"]["DependsOn"] == "MediaEventsQueuePolicy"
    (statement,) = RESOURCES["MediaEventsQueuePolicy"]["Properties"]["PolicyDocument"]["Statement"]
    assert statement["Principal"] == {"Service": "s3.amazonaws.com"} and statement["Action"] == "sqs:SendMessage"
    bucket_name = RESOURCES["MediaBucket"]["Properties"]["BucketName"]
    assert statement["Condition"]["ArnEquals"]["aws:SourceArn"] == f"arn:${{AWS::Partition}}:s3:::{bucket_name}"


def test_each_queue_has_a_dead_letter_queue_watched_by_an_alarm():
    for queue, dlq, alarm in (("FanoutQueue", "FanoutDeadLetterQueue", "FanoutDeadLetterAlarm"),
                              ("MediaEventsQueue", "MediaEventsDeadLetterQueue", "MediaEventsDeadLetterAlarm")):
        assert RESOURCES[queue]["Properties"]["RedrivePolicy"]["deadLetterTargetArn"] == f"{dlq}.Arn"
        properties = RESOURCES[alarm]["Properties"]
        assert properties["MetricName"] == "ApproximateNumberOfMessagesVisible"
        assert properties["Dimensions"] == [{"Name": "QueueName", "Value": f"{dlq}.QueueName"}]
        assert properties["ComparisonOperator"] == "GreaterThanThreshold" and properties["Threshold"] == 0


def test_queue_visibility_is_six_times_its_consumers_timeout():
    for queue, consumer in (("FanoutQueue", "fan_out"), ("MediaEventsQueue", "process_media")):
        assert RESOURCES[queue]["Properties"]["VisibilityTimeout"] >= 6 * FUNCTIONS[consumer].timeout


def test_queue_names_follow_the_stage_as_app_py_expects(monkeypatch):
    """app.py names the fan-out queue when it loads: FANOUT_QUEUE_NAME (an output, so a stage variable that
    Chalice sets while it loads the app for `chalice deploy`), else the dev stage's name."""
    import pytest

    from chalicelib import config

    assert RESOURCES["FanoutQueue"]["Properties"]["QueueName"] == "parley-${Stage}-fanout"
    assert RESOURCES["MediaEventsQueue"]["Properties"]["QueueName"] == "parley-${Stage}-media-events"
    assert INFRA["Outputs"]["FanoutQueueName"]["Value"] == "FanoutQueue.QueueName"
    if not hasattr(config, "fanout_queue_name"):
        pytest.skip("app.py has no fan-out consumer")
    monkeypatch.delenv("FANOUT_QUEUE_NAME", raising=False)
    assert config.fanout_queue_name() == "parley-dev-fanout"


def test_every_function_has_a_log_group_and_is_in_the_errors_alarm():
    groups = {resource["Properties"]["LogGroupName"] for resource in RESOURCES.values()
              if resource["Type"] == "AWS::Logs::LogGroup"}
    watched = {metric["MetricStat"]["Metric"]["Dimensions"][0]["Value"]
               for metric in RESOURCES["FunctionErrorsAlarm"]["Properties"]["Metrics"] if "MetricStat" in metric}
    expected = {function.lambda_name("${Stage}") for function in FUNCTIONS.values()}
    assert groups == {f"/aws/lambda/{name}" for name in expected}
    assert watched == expected


def test_cloudfront_is_optional_and_reads_the_bucket_through_origin_access_control():
    for name in ("MediaDistribution", "MediaOriginAccessControl", "MediaPublicKey", "MediaKeyGroup",
                 "MediaCachePolicy"):
        assert RESOURCES[name]["Condition"] == "UseCloudFront"
    assert INFRA["Parameters"]["EnableCloudFront"]["Default"] == "false"
    config = RESOURCES["MediaDistribution"]["Properties"]["DistributionConfig"]
    assert config["Origins"][0]["OriginAccessControlId"] == "MediaOriginAccessControl.Id"
    assert config["DefaultCacheBehavior"]["TrustedKeyGroups"] == ["MediaKeyGroup"]  # signed URLs only
    assert config["DefaultCacheBehavior"]["ViewerProtocolPolicy"] == "redirect-to-https"
    query = RESOURCES["MediaCachePolicy"]["Properties"]["CachePolicyConfig"][
        "ParametersInCacheKeyAndForwardedToOrigin"]["QueryStringsConfig"]
    assert query == {"QueryStringBehavior": "whitelist", "QueryStrings": ["response-content-disposition"]}
    statements = RESOURCES["MediaBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    condition, oac, _none = statements[1]
    assert condition == "UseCloudFront" and oac["Principal"] == {"Service": "cloudfront.amazonaws.com"}
    assert oac["Action"] == "s3:GetObject"
