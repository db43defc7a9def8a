"""`python -m deploy up / down / webconfig` on moto, with `chalice` replaced by a stand-in that records its
calls and writes what `chalice deploy` records (moto cannot run `chalice deploy`: apigatewayv2 deployments and
Swagger imports are missing)."""
import json
import sys

import pytest

from deploy import project as chalice_project
from deploy.__main__ import main
from deploy.stack import Stack

API_ID, REST_ID = "ws0api0id0", "rest0api00"


@pytest.fixture(autouse=True)
def user_pool_outputs(monkeypatch):
    """moto's CloudFormation makes no user pool: its outputs are added as AWS would answer them."""
    real_outputs = Stack.outputs

    def outputs(self):
        found = real_outputs(self)
        if found.get("UserPoolArn", "").endswith("${UserPool}"):
            pool_id = f"us-east-1_{self.stage}"
            found.update(UserPoolId=pool_id, UserPoolClientId=f"client{self.stage}",
                         UserPoolArn=f"arn:aws:cognito-idp:us-east-1:123456789012:userpool/{pool_id}")
        return found

    monkeypatch.setattr(Stack, "outputs", outputs)


@pytest.fixture
def chalice_calls(monkeypatch):
    calls = []

    def fake_chalice(project_dir, *args, env=None):
        calls.append((args, json.loads((project_dir / ".chalice" / f"policy-{args[2]}-fan_out.json").read_text())
                      if args[0] == "deploy" else None))
        deployed = project_dir / ".chalice" / "deployed" / f"{args[2]}.json"
        if args[0] == "deploy":
            deployed.parent.mkdir(exist_ok=True)
            deployed.write_text(json.dumps({"schema_version": "2.0", "backend": "api", "resources": [
                {"name": "rest_api", "resource_type": "rest_api", "rest_api_id": REST_ID,
                 "rest_api_url": f"https://{REST_ID}.execute-api.us-east-1.amazonaws.com/api/"},
                {"name": "websocket_api", "resource_type": "websocket_api", "websocket_api_id": API_ID,
                 "websocket_api_url": f"wss://{API_ID}.execute-api.us-east-1.amazonaws.com/api/"}]}))
        elif args[0] == "delete":
            deployed.unlink()

    monkeypatch.setattr(chalice_project, "run_chalice", fake_chalice)
    return calls


def test_first_up_deploys_twice_so_that_the_roles_can_name_the_new_websocket_api(aws, project, chalice_calls,
                                                                                 capsys):
    main(["up", "--stage", "t1", "--project-dir", str(project)])

    (first, first_policy), (second, second_policy) = chalice_calls
    assert first == second == ("deploy", "--stage", "t1")
    assert "execute-api" not in json.dumps(first_policy)
    assert f"{API_ID}/api/POST/@connections/*" in json.dumps(second_policy)
    config = json.loads((project / ".chalice" / "config.json").read_text())
    stack_outputs = Stack(aws, "t1").outputs()
    assert config["stages"]["t1"]["environment_variables"]["MEDIA_EVENTS_QUEUE_URL"] == \
        stack_outputs["MediaEventsQueueUrl"]
    assert f"https://{REST_ID}.execute-api.us-east-1.amazonaws.com/api" in capsys.readouterr().err

    chalice_calls.clear()
    main(["up", "--stage", "t1", "--project-dir", str(project)])  # the API id is known now: one deploy
    assert [call for call, _ in chalice_calls] == [("deploy", "--stage", "t1")]

    main(["webconfig", "--stage", "t1", "--project-dir", str(project)])
    printed = capsys.readouterr().out
    assert f'"apiBase": "https://{REST_ID}.execute-api.us-east-1.amazonaws.com/api"' in printed
    assert f'"wsBase": "wss://{API_ID}.execute-api.us-east-1.amazonaws.com/api"' in printed


def test_down_deletes_the_app_then_the_stack_and_keeps_user_data_unless_purged(aws, project, chalice_calls, capsys):
    main(["up", "--stage", "t2", "--project-dir", str(project)])
    chalice_calls.clear()

    main(["down", "--stage", "t2", "--project-dir", str(project)])

    assert [call for call, _ in chalice_calls] == [("delete", "--stage", "t2")]
    assert Stack(aws, "t2").describe() is None
    assert not list((project / ".chalice").glob("policy-t2-*.json"))
    assert "parley-t2-messages" in capsys.readouterr().err  # told what is kept
    assert "parley-t2-messages" in aws.client("dynamodb").list_tables()["TableNames"]


def test_down_purge_deletes_the_user_data_too(aws, project, chalice_calls):
    main(["up", "--stage", "t3", "--project-dir", str(project)])
    main(["down", "--stage", "t3", "--purge", "--yes", "--project-dir", str(project)])
    assert aws.client("dynamodb").list_tables()["TableNames"] == []
    assert aws.client("s3").list_buckets()["Buckets"] == []


def test_up_passes_cloudfront_and_alarm_settings_and_keeps_them_on_later_deploys(aws, project, chalice_calls,
                                                                                monkeypatch):
    seen = []
    real_deploy = Stack.deploy

    def deploy(self, parameters):
        seen.append(dict(parameters))
        return real_deploy(self, {**parameters, "EnableCloudFront": "false", "CloudFrontPublicKey": ""})

    monkeypatch.setattr(Stack, "deploy", deploy)  # moto's CloudFormation cannot create CloudFront
    main(["up", "--stage", "t4", "--cloudfront", "--alarm-email", "ops@example.com", "--project-dir", str(project)])
    assert seen[0]["EnableCloudFront"] == "true"
    assert seen[0]["CloudFrontPublicKey"].startswith("-----BEGIN PUBLIC KEY-----")
    assert seen[0]["AlarmEmail"] == "ops@example.com"

    monkeypatch.setattr(Stack, "parameters", lambda self: {"EnableCloudFront": "true", "AlarmEmail": "ops@example.com"})
    main(["up", "--stage", "t4", "--project-dir", str(project)])
    assert seen[1]["EnableCloudFront"] == "true" and seen[1]["AlarmEmail"] == "ops@example.com"
    assert seen[1]["CloudFrontPublicKey"] == seen[0]["CloudFrontPublicKey"]  # the same key, from SSM


def test_up_refuses_an_app_function_without_a_policy_template(aws, project, chalice_calls, monkeypatch):
    sys.modules.pop("app", None)  # Chalice must load this project's app.py (conftest restores it)
    (project / "app.py").write_text((project / "app.py").read_text() + '''

@app.lambda_function()
def unplanned(event, context):
    return {}
''')
    with pytest.raises(SystemExit, match="unplanned"):
        main(["up", "--stage", "t5", "--project-dir", str(project)])
    assert chalice_calls == []
