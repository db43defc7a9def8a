"""AWS on this machine: Parley's infra template deployed into moto."""
import socket
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


def deploy(stage: str = "local") -> dict[str, str]:
    """Deploy infra/parley.yaml (plus what moto's CloudFormation ignores) into this process's moto; answer the
    app's environment."""
    def client(service: str):
        return boto3.client(service, region_name=REGION)

    stack = f"parley-{stage}"
    # SNS platform applications, as `python -m deploy up` makes them from the deployer's credentials (moto
    # checks none and delivers nothing: devstack/pushes.py shows what would have gone out)
    sns = client("sns")
    applications = {
        parameter: sns.create_platform_application(Name=f"{stack}-{platform.lower()}", Platform=platform, Attributes={
            "PlatformCredential": "local", **principal})["PlatformApplicationArn"]
        for parameter, platform, principal in (("ApnsApplicationArn", "APNS", {"PlatformPrincipal": "local-key-id"}),
                                               ("FcmApplicationArn", "GCM", {}))}
    cloudformation = client("cloudformation")
    cloudformation.create_stack(StackName=stack, TemplateBody=template.TEMPLATE.read_text(), Parameters=[
        {"ParameterKey": key, "ParameterValue": value} for key, value in {"Stage": stage, **applications}.items()])
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
    return env
