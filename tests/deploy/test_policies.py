"""The per-function IAM policies, as rendered from a real (moto) stack's outputs: least privilege."""
import json
import re

import pytest

from deploy import iam
from deploy.functions import FUNCTIONS
from deploy.outputs import StackFacts

API_ID = "a1b2c3d4e5"
KEY_PARAMETER = "/parley/local/cloudfront-private-key"
# Item-level data actions and the few others a function may have; anything else (a table's deletion, IAM,
# a whole service) fails the test until someone adds it here on purpose.
ALLOWED_ACTIONS = {
    "dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Query", "dynamodb:ConditionCheckItem",
    "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:BatchWriteItem",
    "s3:GetObject", "s3:PutObject", "s3:DeleteObject",
    "sqs:SendMessage", "sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility",
    "sqs:GetQueueAttributes",
    "cognito-idp:AdminConfirmSignUp", "cognito-idp:AdminUserGlobalSignOut", "cognito-idp:AdminDisableUser",
    "cognito-idp:AdminDeleteUser", "execute-api:ManageConnections",
    "ssm:GetParameter",
    "sns:CreatePlatformEndpoint", "sns:GetEndpointAttributes", "sns:SetEndpointAttributes", "sns:DeleteEndpoint",
    "sns:Publish",
    "logs:CreateLogStream", "logs:PutLogEvents",
}
ACTION = re.compile(r"[a-z0-9-]+:[A-Za-z]+")  # no `*` or `?` anywhere in an action


def as_list(value) -> list:
    return value if isinstance(value, list) else [value]


@pytest.fixture
def policies(outputs) -> dict[str, dict]:
    return iam.render_all("local", {**outputs, "CloudFrontPrivateKeyParameter": KEY_PARAMETER}, API_ID)


@pytest.fixture
def known_resources(outputs) -> dict[str, str]:
    """Every resource a policy may name, by what it is."""
    facts = StackFacts.of(outputs)
    bucket = f"arn:aws:s3:::{outputs['MediaBucket']}"
    known = {facts.table_arn(outputs[key]): key for key in
             ("ConnectionsTable", "UsersTable", "ChatsTable", "MessagesTable", "MediaTable")}
    known[facts.table_arn(outputs["ChatsTable"]) + "/index/by_member"] = "ChatsByMember"
    known[facts.table_arn(outputs["UsersTable"]) + "/index/online"] = "UsersOnline"
    known[facts.table_arn(outputs["MessagesTable"]) + "/index/expiring"] = "MessagesExpiring"
    known[facts.table_arn(outputs["MediaTable"]) + "/index/by_uploader"] = "MediaByUploader"
    known.update({bucket + "/*": "MediaObjects", bucket + "/uploads/*": "Uploads", bucket + "/exports/*": "Exports",
                  outputs["FanoutQueueArn"]: "FanoutQueue", outputs["MediaEventsQueueArn"]: "MediaEventsQueue",
                  outputs["UserPoolArn"]: "UserPool", facts.ssm_parameter_arn(KEY_PARAMETER): "SigningKey"})
    for platform in ("Apns", "Fcm"):
        application = outputs[f"{platform}ApplicationArn"]
        known[application] = f"{platform}Application"
        known[application.replace(":app/", ":endpoint/") + "/*"] = f"{platform}Endpoints"
    for method in ("POST", "GET", "DELETE"):
        known[f"arn:aws:execute-api:us-east-1:123456789012:{API_ID}/api/{method}/@connections/*"] = f"{method}Socket"
    for function in FUNCTIONS.values():
        known[facts.log_group_arn(function.lambda_name("local")) + ":*"] = f"Logs:{function.name}"
    return known


def test_every_placeholder_is_filled(policies):
    for name, policy in policies.items():
        assert "${" not in json.dumps(policy), name


def test_no_wildcard_actions_and_only_allowed_ones(policies):
    for name, policy in policies.items():
        for statement in policy["Statement"]:
            assert statement["Effect"] == "Allow"
            assert not {"NotAction", "NotResource", "NotPrincipal"} & set(statement), name
            for action in as_list(statement["Action"]):
                assert ACTION.fullmatch(action), f"{name}: wildcard or malformed action {action!r}"
                assert action in ALLOWED_ACTIONS, f"{name}: {action} is not expected of any Parley function"


def test_resources_are_named_and_wildcards_only_end_an_arn(policies, known_resources):
    for name, policy in policies.items():
        for statement in policy["Statement"]:
            for resource in as_list(statement["Resource"]):
                assert resource != "*", f"{name}: bare * resource"
                stars = resource.count("*")
                assert stars == 0 or (stars == 1 and re.search(r"[/:]\*$", resource)), \
                    f"{name}: wildcard inside {resource!r}"
                assert resource in known_resources, f"{name}: {resource} is not a Parley resource of this stage"


def test_each_function_gets_only_what_it_touches(policies, known_resources):
    def named(function: str) -> set[str]:
        return {known_resources[resource] for statement in policies[function]["Statement"]
                for resource in as_list(statement["Resource"])}

    def actions(function: str) -> set[str]:
        return {action for statement in policies[function]["Statement"] for action in as_list(statement["Action"])}

    for function in FUNCTIONS:
        assert f"Logs:{function}" in named(function)
        assert not {f"Logs:{other}" for other in FUNCTIONS if other != function} & named(function)
    assert named("fan_out") == {"FanoutQueue", "UsersTable", "UsersOnline", "ConnectionsTable", "ChatsTable",
                                "ChatsByMember", "POSTSocket", "Logs:fan_out", "MessagesTable", "Exports", "UserPool",
                                "MediaTable", "MediaByUploader", "MediaObjects",  # and a deleted account's uploads
                                "ApnsEndpoints", "FcmEndpoints"}  # push tasks
    # devices are registered over REST; pushes go out from the queue only
    assert {function for function in FUNCTIONS if "sns:CreatePlatformEndpoint" in actions(function)} == {"api_handler"}
    assert {function for function in FUNCTIONS if "sns:Publish" in actions(function)} == {"fan_out"}
    # its own queue: the next page of a presence announcement, the announcements of a shard it swept
    assert {"sqs:ReceiveMessage", "sqs:SendMessage"} <= actions("fan_out")
    # presence transitions are queued, not announced inline; the sweep's schedule only queues its shards
    for function in ("websocket_connect", "websocket_disconnect"):
        assert "sqs:SendMessage" in actions(function) and not {"ChatsTable", "ChatsByMember"} & named(function)
    assert named("sweep_presence") == {"FanoutQueue", "Logs:sweep_presence"}
    assert "MediaEventsQueue" in named("process_media")
    assert {function for function in FUNCTIONS if "UserPool" in named(function)} == {"api_handler", "fan_out"}
    assert "cognito-idp:AdminDeleteUser" in actions("fan_out")  # the account deletion job
    assert {function for function in FUNCTIONS if "UsersOnline" in named(function)} == {"fan_out"}
    assert {function for function in FUNCTIONS if "MessagesTable" in named(function)} == {
        "api_handler", "websocket_message", "expire_messages", "fan_out"}  # fan_out: data exports
    assert {function for function in FUNCTIONS if "MessagesExpiring" in named(function)} == {"expire_messages"}
    assert {function for function in FUNCTIONS if "Exports" in named(function)} == {"fan_out"}
    assert {function for function in FUNCTIONS if "dynamodb:BatchWriteItem" in actions(function)} == {
        "api_handler", "websocket_message", "fan_out"}  # fan_out: a queued group's news marks
    # a message deleted for everyone takes its media with it, once no forward uses it
    assert {function for function in FUNCTIONS if "s3:DeleteObject" in actions(function)} == {
        "process_media", "websocket_message", "expire_messages", "fan_out"}
    assert {function for function in FUNCTIONS if "dynamodb:PutItem" in actions(function)
            and "ConnectionsTable" in named(function)} >= {"websocket_connect"}
    assert not {"GETSocket"} & {r for function in FUNCTIONS for r in named(function)}
    # closing a socket whose record is gone, so that its client reconnects; a user's oldest past the cap
    assert {function for function in FUNCTIONS if "DELETESocket" in named(function)} == {
        "websocket_message", "websocket_connect", "api_handler"}  # api_handler: logout_all closes every socket
    for function in ("websocket_connect", "websocket_disconnect", "sweep_presence"):
        assert not {"MediaObjects", "Uploads", "MediaTable", "SigningKey"} & named(function), function
    for function in ("api_handler", "websocket_message"):  # presigned POSTs: uploads/ only
        (put,) = [s for s in policies[function]["Statement"] if "s3:PutObject" in as_list(s["Action"])]
        assert [known_resources[r] for r in as_list(put["Resource"])] == ["Uploads"]


def test_before_the_websocket_api_exists_its_statements_are_left_out(outputs):
    for function in FUNCTIONS:
        policy = iam.render(function, "local", outputs, websocket_api_id=None)
        text = json.dumps(policy)
        assert "execute-api" not in text and "${" not in text and "ssm:" not in text
        assert policy["Statement"], function


def test_a_stage_without_push_credentials_gets_no_sns_statements(outputs):
    without = {key: value for key, value in outputs.items() if not key.endswith("ApplicationArn")}
    for function in FUNCTIONS:
        assert "sns:" not in json.dumps(iam.render(function, "local", without, API_ID)), function


def test_an_unknown_placeholder_is_an_error(outputs, monkeypatch):
    real = iam.template
    monkeypatch.setattr(iam, "template", lambda function: {"Statement": [
        *real(function)["Statement"], {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "${Nope}"}]})
    with pytest.raises(KeyError, match="Nope"):
        iam.render("fan_out", "local", outputs, API_ID)


def test_policies_fit_in_an_iam_inline_policy(policies):
    for name, policy in policies.items():  # Chalice puts each in the role as an inline policy: 10,240 chars
        assert len(json.dumps(policy, separators=(",", ":"))) < 10_240, name
