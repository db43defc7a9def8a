"""AWS on this machine: a moto server, and Parley's infra template deployed into it."""
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import boto3

from deploy import template
from deploy.moto_gaps import apply_bucket_settings
from deploy.outputs import env_name

ROOT = Path(__file__).resolve().parent.parent
REGION = "us-east-1"
FAKE_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                    "AWS_SESSION_TOKEN": "testing", "AWS_DEFAULT_REGION": REGION, "AWS_REGION": REGION}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for_port(port: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {timeout} s")


def start_moto(port: int) -> subprocess.Popen:
    """moto in its own process, so that it gets a core of its own."""
    process = subprocess.Popen([sys.executable, "-m", "devstack.moto_server", "--port", str(port)], cwd=ROOT,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               env={**os.environ, **FAKE_CREDENTIALS})
    wait_for_port(port)
    return process


def deploy(endpoint: str | None, stage: str = "local") -> dict[str, str]:
    """Deploy infra/parley.yaml (plus what moto's CloudFormation ignores); answer the app's environment."""
    def client(service: str):
        return boto3.client(service, region_name=REGION, endpoint_url=endpoint)

    stack = f"parley-{stage}"
    cloudformation = client("cloudformation")
    cloudformation.create_stack(StackName=stack, TemplateBody=template.TEMPLATE.read_text(),
                                Parameters=[{"ParameterKey": "Stage", "ParameterValue": stage}])
    outputs = cloudformation.describe_stacks(StackName=stack)["Stacks"][0].get("Outputs", [])
    env = {env_name(output["OutputKey"]): output["OutputValue"] for output in outputs}

    resources = template.load()["Resources"]
    dynamodb = client("dynamodb")
    for name, resource in resources.items():
        ttl = resource["Properties"].get("TimeToLiveSpecification")
        if resource["Type"] == "AWS::DynamoDB::Table" and ttl:
            dynamodb.update_time_to_live(TableName=env[env_name(name)], TimeToLiveSpecification={
                "AttributeName": ttl["AttributeName"], "Enabled": True})

    apply_bucket_settings(client("s3"), env)

    pool_spec, client_spec = resources["UserPool"]["Properties"], resources["UserPoolClient"]["Properties"]
    cognito = client("cognito-idp")
    pool = cognito.create_user_pool(PoolName=stack, Policies=pool_spec["Policies"],
                                    UsernameConfiguration=pool_spec["UsernameConfiguration"])["UserPool"]
    pool_id = pool["Id"]
    client_id = cognito.create_user_pool_client(
        UserPoolId=pool_id, ClientName=f"{stack}-app", GenerateSecret=False,
        ExplicitAuthFlows=client_spec["ExplicitAuthFlows"])["UserPoolClient"]["ClientId"]
    env.update(USER_POOL_ID=pool_id, USER_POOL_CLIENT_ID=client_id, USER_POOL_ARN=pool["Arn"])
    if endpoint:
        env["JWKS_URL"] = f"{endpoint}/{pool_id}/.well-known/jwks.json"
    return env
