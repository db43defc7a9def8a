"""Writes a stage into `.chalice/config.json`: the stack's outputs as environment variables, and one IAM
policy file per function (`autogen_policy` stays off: Chalice's generated policies are too wide).

What the writer owns in a stage: the environment variables named after the template's outputs (an output
that disappears, say CloudFront's once it is turned off, takes its variable along) and each function's
`iam_policy_file`. Anything else in the file (other variables, timeouts, memory sizes edited by hand) is
kept; timeouts and memory sizes get defaults from deploy/functions.py when a stage is new.
"""
import json
from pathlib import Path

from deploy import template
from deploy.functions import API_GATEWAY_STAGE, APP_NAME, FUNCTIONS
from deploy.iam import policy_file_name
from deploy.outputs import env_name, environment

CONFIG_NAME = "config.json"
BASE = {
    "version": "2.0",
    "app_name": APP_NAME,
    "autogen_policy": False,
    "api_gateway_stage": API_GATEWAY_STAGE,
    "lambda_memory_size": 512,
    "lambda_timeout": 29,
    "environment_variables": {"POWERTOOLS_LOG_LEVEL": "INFO"},
    "tags": {"app": APP_NAME},
    "stages": {},
}


def read(chalice_dir: Path) -> dict:
    path = chalice_dir / CONFIG_NAME
    return json.loads(path.read_text()) if path.exists() else json.loads(json.dumps(BASE))


def write(chalice_dir: Path, config: dict) -> Path:
    chalice_dir.mkdir(parents=True, exist_ok=True)
    path = chalice_dir / CONFIG_NAME
    path.write_text(json.dumps(config, indent=2) + "\n")
    return path


def stage_config(config: dict, stage: str, outputs: dict[str, str]) -> dict:
    """`config` with `stage` set from `outputs` (a new dict; `config` is not changed)."""
    config = json.loads(json.dumps(config))
    # The policy files only work with these; a hand edit that turns them back would deploy wide roles.
    config.update(app_name=APP_NAME, autogen_policy=False, api_gateway_stage=API_GATEWAY_STAGE)
    config.setdefault("version", BASE["version"])
    section = config.setdefault("stages", {}).setdefault(stage, {})

    owned = {env_name(key) for key in template.output_keys()} | {env_name(key) for key in outputs}
    kept = {name: value for name, value in section.get("environment_variables", {}).items() if name not in owned}
    section["environment_variables"] = {**kept, **environment(outputs)}
    section.setdefault("tags", {})["stage"] = stage

    functions = section.setdefault("lambda_functions", {})
    for name, function in FUNCTIONS.items():
        entry = functions.setdefault(name, {})
        entry["iam_policy_file"] = policy_file_name(stage, name)
        entry.setdefault("lambda_timeout", function.timeout)
        entry.setdefault("lambda_memory_size", function.memory)
    return config


def write_stage(chalice_dir: Path, stage: str, outputs: dict[str, str]) -> Path:
    return write(chalice_dir, stage_config(read(chalice_dir), stage, outputs))

