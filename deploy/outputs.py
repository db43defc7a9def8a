"""A stack's outputs: as the app's environment, and as the ARNs its IAM policies name.

Output keys become environment variable names CamelCase -> UPPER_SNAKE (`ChatsTable` -> `CHATS_TABLE`),
exactly as the local stack does it (devstack/aws.py), so the app reads the same names everywhere.
"""
import json
import re
from dataclasses import dataclass
from pathlib import Path

# What the app and its IAM policies cannot do without; the rest (CloudFront) is optional.
REQUIRED_OUTPUTS = (
    "ConnectionsTable", "UsersTable", "ChatsTable", "MessagesTable", "MediaTable",
    "UserPoolId", "UserPoolClientId", "UserPoolArn",
    "MediaBucket", "MediaEventsQueueUrl", "MediaEventsQueueArn", "MediaEventsQueueName",
    "FanoutQueueUrl", "FanoutQueueArn", "FanoutQueueName",
)
TABLE_OUTPUTS = ("ConnectionsTable", "UsersTable", "ChatsTable", "MessagesTable", "MediaTable")
ARN = re.compile(r"arn:(?P<partition>[^:]+):(?P<service>[^:]+):(?P<region>[^:]*):(?P<account>[^:]*):(?P<resource>.+)")


def env_name(output_key: str) -> str:
    """`MediaEventsQueueUrl` -> `MEDIA_EVENTS_QUEUE_URL` (the rule devstack/aws.py applies too)."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", output_key).upper()


def normalize(raw) -> dict[str, str]:
    """Outputs as {key: value}, from that mapping itself, a `describe_stacks` answer, one of its stacks, or
    its `Outputs` list."""
    if isinstance(raw, dict) and "Stacks" in raw:
        raw = raw["Stacks"][0]
    if isinstance(raw, dict) and "Outputs" in raw and isinstance(raw["Outputs"], list):
        raw = raw["Outputs"]
    if isinstance(raw, list):
        return {item["OutputKey"]: item["OutputValue"] for item in raw}
    if isinstance(raw, dict) and all(isinstance(value, str) for value in raw.values()):
        return dict(raw)
    raise ValueError("expected stack outputs: {key: value}, a describe-stacks answer or its Outputs list")


def load(path: str | Path) -> dict[str, str]:
    return normalize(json.loads(Path(path).read_text()))


def environment(outputs: dict[str, str]) -> dict[str, str]:
    return {env_name(key): value for key, value in sorted(outputs.items())}


@dataclass(frozen=True)
class StackFacts:
    """Where the stack lives, read from an ARN among its outputs (no AWS call, so it works offline)."""
    partition: str
    region: str
    account_id: str

    @classmethod
    def of(cls, outputs: dict[str, str]) -> "StackFacts":
        missing = [key for key in REQUIRED_OUTPUTS if not outputs.get(key)]
        if missing:
            raise ValueError(f"the stack outputs lack {', '.join(missing)}: is infra/parley.yaml deployed?")
        match = ARN.fullmatch(outputs["FanoutQueueArn"])
        if not match:
            raise ValueError(f"FanoutQueueArn is not an ARN: {outputs['FanoutQueueArn']!r}")
        return cls(match["partition"], match["region"], match["account"])

    def table_arn(self, table_name: str) -> str:
        return f"arn:{self.partition}:dynamodb:{self.region}:{self.account_id}:table/{table_name}"

    def log_group_arn(self, function_name: str) -> str:
        return f"arn:{self.partition}:logs:{self.region}:{self.account_id}:log-group:/aws/lambda/{function_name}"

    def ssm_parameter_arn(self, name: str) -> str:
        return f"arn:{self.partition}:ssm:{self.region}:{self.account_id}:parameter/{name.lstrip('/')}"
