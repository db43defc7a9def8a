"""Per-function IAM policies, rendered from `deploy/policy_templates/<function>.json` and the stack's outputs.

A template is an IAM policy whose strings hold `${Name}` placeholders (the names are in `variables`). Two of
them can be unknown when rendering:

- `WebSocketApiId`: `chalice deploy` creates the WebSocket API, so its id exists only after the first
  deploy (Chalice records it in `.chalice/deployed/<stage>.json`). Until then the statements that name it
  are left out; `python -m deploy up` then deploys a second time with them in.
- `CloudFrontPrivateKeyParameterArn`: only stages with CloudFront have a signing key.
- `ApnsApplicationArn`, `FcmApplicationArn` and their `...EndpointsArn`: only stages given push credentials
  have SNS platform applications (deploy/push_apps.py).

A statement naming an unknown *optional* variable is dropped whole (so a policy never widens to a
wildcard for lack of an id); any other unknown name is an error.
"""
import json
import re
from pathlib import Path

from deploy.functions import API_GATEWAY_STAGE, FUNCTIONS
from deploy.outputs import TABLE_OUTPUTS, StackFacts

TEMPLATES = Path(__file__).resolve().parent / "policy_templates"
OPTIONAL = ("WebSocketApiId", "CloudFrontPrivateKeyParameterArn", "ApnsApplicationArn", "ApnsEndpointsArn",
            "FcmApplicationArn", "FcmEndpointsArn")
PLACEHOLDER = re.compile(r"\$\{([A-Za-z0-9]+)\}")


def policy_file_name(stage: str, function: str) -> str:
    """Relative to `.chalice/`, as Chalice's `iam_policy_file` wants it."""
    return f"policy-{stage}-{function}.json"


def template(function: str) -> dict:
    return json.loads((TEMPLATES / f"{function}.json").read_text())


def variables(stage: str, outputs: dict[str, str], websocket_api_id: str | None) -> dict[str, str]:
    """The values placeholders may name, for every function (`LogGroupArn` is added per function)."""
    facts = StackFacts.of(outputs)
    values = {
        "Partition": facts.partition, "Region": facts.region, "AccountId": facts.account_id,
        "Stage": stage, "ApiStage": API_GATEWAY_STAGE,
        "MediaBucketArn": f"arn:{facts.partition}:s3:::{outputs['MediaBucket']}",
        "FanoutQueueArn": outputs["FanoutQueueArn"], "MediaEventsQueueArn": outputs["MediaEventsQueueArn"],
        "UserPoolArn": outputs["UserPoolArn"],
    }
    for key in TABLE_OUTPUTS:
        values[f"{key}Arn"] = facts.table_arn(outputs[key])
    if websocket_api_id:
        values["WebSocketApiId"] = websocket_api_id
    for platform in ("Apns", "Fcm"):
        if outputs.get(f"{platform}ApplicationArn"):
            application = outputs[f"{platform}ApplicationArn"]  # app/APNS/name; its endpoints: endpoint/APNS/name/id
            values[f"{platform}ApplicationArn"] = application
            values[f"{platform}EndpointsArn"] = application.replace(":app/", ":endpoint/", 1) + "/*"
    if outputs.get("CloudFrontPrivateKeyParameter"):
        values["CloudFrontPrivateKeyParameterArn"] = facts.ssm_parameter_arn(outputs["CloudFrontPrivateKeyParameter"])
    return values


def _substitute(node, values: dict[str, str]):
    if isinstance(node, str):
        return PLACEHOLDER.sub(lambda match: values[match[1]], node)
    if isinstance(node, list):
        return [_substitute(item, values) for item in node]
    if isinstance(node, dict):
        return {key: _substitute(value, values) for key, value in node.items()}
    return node


def _names(node) -> set[str]:
    return set(PLACEHOLDER.findall(json.dumps(node)))


def render(function: str, stage: str, outputs: dict[str, str], websocket_api_id: str | None = None) -> dict:
    values = variables(stage, outputs, websocket_api_id)
    values["LogGroupArn"] = StackFacts.of(outputs).log_group_arn(FUNCTIONS[function].lambda_name(stage))
    statements = []
    for statement in template(function)["Statement"]:
        unknown = _names(statement) - values.keys()
        if unknown - set(OPTIONAL):
            raise KeyError(f"{function}.json names unknown placeholders {sorted(unknown - set(OPTIONAL))}")
        if not unknown:
            statements.append(_substitute(statement, values))
    return {"Version": "2012-10-17", "Statement": statements}


def render_all(stage: str, outputs: dict[str, str], websocket_api_id: str | None = None) -> dict[str, dict]:
    return {function: render(function, stage, outputs, websocket_api_id) for function in FUNCTIONS}


def write_all(chalice_dir: Path, stage: str, outputs: dict[str, str], websocket_api_id: str | None = None
              ) -> dict[str, Path]:
    written = {}
    for function, document in render_all(stage, outputs, websocket_api_id).items():
        path = chalice_dir / policy_file_name(stage, function)
        path.write_text(json.dumps(document, indent=2) + "\n")
        written[function] = path
    return written
