"""The Chalice project on disk: its app's functions, what `chalice deploy` recorded, and running Chalice."""
import json
import os
import subprocess
import sys
from pathlib import Path

from deploy.functions import FUNCTIONS
from deploy.template import ROOT

CHALICE = [sys.executable, "-c", "import sys; from chalice.cli import main; sys.exit(main())"]


def chalice_dir(project_dir: Path = ROOT) -> Path:
    return project_dir / ".chalice"


def deployed(project_dir: Path, stage: str) -> dict[str, dict]:
    """`.chalice/deployed/<stage>.json` by resource name (`rest_api`, `websocket_api`, functions, ...)."""
    path = chalice_dir(project_dir) / "deployed" / f"{stage}.json"
    if not path.exists():
        return {}
    return {resource["name"]: resource for resource in json.loads(path.read_text()).get("resources", [])}


def websocket_api_id(project_dir: Path, stage: str) -> str | None:
    return deployed(project_dir, stage).get("websocket_api", {}).get("websocket_api_id")


def stage_urls(project_dir: Path, stage: str) -> dict[str, str]:
    resources = deployed(project_dir, stage)
    urls = {"apiBase": resources.get("rest_api", {}).get("rest_api_url", ""),
            "wsBase": resources.get("websocket_api", {}).get("websocket_api_url", "")}
    return {key: value.rstrip("/") for key, value in urls.items() if value}


def _graph(project_dir: Path, stage: str, environ):
    from chalice.cli.factory import CLIFactory
    from chalice.deploy.appgraph import ApplicationGraphBuilder

    config = CLIFactory(str(project_dir), environ=environ).create_config_obj(chalice_stage_name=stage)
    graph = ApplicationGraphBuilder().build(config, stage)
    resources, pending = [], list(graph.dependencies())
    while pending:
        resource = pending.pop()
        resources.append(resource)
        pending.extend(resource.dependencies())
    return resources


def app_functions(project_dir: Path, stage: str) -> set[str]:
    """The Lambda functions `chalice deploy --stage` would create, by Chalice's resource names, from
    Chalice's own application graph (offline: it imports app.py, calls no AWS API)."""
    from chalice.deploy.models import LambdaFunction

    return {resource.resource_name for resource in _graph(project_dir, stage, dict(os.environ))
            if isinstance(resource, LambdaFunction)}


def chalice_view(project_dir: Path, stage: str) -> dict[str, dict]:
    """What `chalice deploy --stage` would make of each function, read through Chalice's own config loader
    and application graph, as its CLI does (the stage's variables are set while app.py loads, so run this
    in a process of its own): policy file, environment, timeout, memory, handler, SQS queue."""
    from chalice.deploy.models import LambdaFunction, ManagedIAMRole, QueueARN, SQSEventSource

    view: dict[str, dict] = {}
    queues: dict[str, str] = {}
    for resource in _graph(project_dir, stage, os.environ):
        if isinstance(resource, LambdaFunction):
            role = resource.role
            if not isinstance(role, ManagedIAMRole):
                raise SystemExit(f"{resource.resource_name}: the deploy gives each function a role of its own; "
                                 "remove iam_role_arn and manage_iam_role from .chalice/config.json")
            view[resource.resource_name] = {
                "function_name": resource.function_name, "handler": resource.handler,
                "policy_file": getattr(role.policy, "filename", None),
                "autogen_policy": type(role.policy).__name__ == "AutoGenIAMPolicy",
                "role_name": role.role_name, "environment": resource.environment_variables,
                "timeout": resource.timeout, "memory": resource.memory_size}
        elif isinstance(resource, SQSEventSource):
            queue = resource.queue
            queues[resource.lambda_function.resource_name] = queue.arn if isinstance(queue, QueueARN) else queue
    for name, queue in queues.items():
        view[name]["sqs_queue"] = queue
    return view


def check_functions(project_dir: Path, stage: str) -> set[str]:
    """Fail when app.py has a function no policy template covers (its role would be unplanned)."""
    functions = app_functions(project_dir, stage)
    uncovered = functions - FUNCTIONS.keys()
    if uncovered:
        raise SystemExit(f"app.py defines Lambda functions without an IAM policy template: {sorted(uncovered)}; "
                         f"add deploy/policy_templates/<name>.json and an entry in deploy/functions.py")
    return functions


def run_chalice(project_dir: Path, *args: str, env: dict[str, str] | None = None) -> None:
    command = [*CHALICE, "--project-dir", str(project_dir), *args]
    print("$ chalice " + " ".join(args), file=sys.stderr, flush=True)
    result = subprocess.run(command, cwd=project_dir, env={**os.environ, **(env or {})})
    if result.returncode != 0:
        raise SystemExit(f"chalice {args[0]} failed ({result.returncode})")
