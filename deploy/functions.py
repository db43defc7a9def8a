"""The Lambda functions `chalice deploy` creates for Parley, by the names Chalice gives them.

Chalice names a function's config entry, IAM role and Lambda after its *resource name*: the handler's
Python name for `@app.on_sqs_message` / `@app.schedule` / `@app.lambda_function`, but fixed names for the
others: `api_handler` for every REST route, `websocket_connect`, `websocket_message` and
`websocket_disconnect` for the three WebSocket handlers, whatever their Python names.

Every function here has a policy template in `deploy/policy_templates/<name>.json`. A handler that app.py gains
without a template makes `python -m deploy` (and tests/deploy) fail, rather than deploy a function whose
role nobody has thought about.
"""
from dataclasses import dataclass

APP_NAME = "parley"
API_GATEWAY_STAGE = "api"


@dataclass(frozen=True)
class Function:
    name: str
    timeout: int  # seconds
    memory: int  # MB; Lambda's CPU share grows with it, and so does cold-start speed
    source: str  # what invokes it

    def lambda_name(self, stage: str) -> str:
        # Chalice keeps the REST handler's old name, <app>-<stage>, for backwards compatibility.
        if self.name == "api_handler":
            return f"{APP_NAME}-{stage}"
        return f"{APP_NAME}-{stage}-{self.name}"


FUNCTIONS = {f.name: f for f in [
    # API Gateway gives up on an integration after 29 s.
    Function("api_handler", timeout=29, memory=512, source="REST API"),
    Function("websocket_connect", timeout=29, memory=512, source="WebSocket $connect"),
    Function("websocket_message", timeout=29, memory=512, source="WebSocket $default"),
    Function("websocket_disconnect", timeout=29, memory=512, source="WebSocket $disconnect"),
    # SQS consumers: each queue's visibility timeout in infra/parley.yaml is 6x the timeout here.
    Function("fan_out", timeout=30, memory=512, source="SQS FanoutQueue"),
    Function("process_media", timeout=300, memory=2048, source="SQS MediaEventsQueue"),
    Function("sweep_presence", timeout=60, memory=512, source="schedule"),
    Function("expire_messages", timeout=60, memory=512, source="schedule"),
]}
