""".chalice/config.json: the committed file, and what the config writer makes of a stack's outputs, read back
through Chalice's own loader and application graph (what `chalice deploy --stage` builds from it)."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from deploy import chalice_config, iam
from deploy import project as chalice_project
from deploy.__main__ import main as deploy_main
from deploy.functions import FUNCTIONS
from deploy.outputs import REQUIRED_OUTPUTS, env_name
from tests.deploy.conftest import ROOT

VIEW = "import json, sys; from pathlib import Path; from deploy.project import chalice_view; " \
       "print(json.dumps(chalice_view(Path(sys.argv[1]), sys.argv[2])))"


def chalice_view(project_dir: Path, stage: str) -> dict[str, dict]:
    """In a fresh interpreter: Chalice sets the stage's variables while it loads app.py, as in `chalice deploy`."""
    env = {key: value for key, value in os.environ.items() if not key.endswith(("_QUEUE_NAME", "_TABLE"))}
    answer = subprocess.run([sys.executable, "-c", VIEW, str(project_dir), stage], cwd=ROOT, check=True,
                            capture_output=True, text=True, env={**env, "PYTHONPATH": str(ROOT)})
    return json.loads(answer.stdout)


def test_the_committed_config_turns_autogen_off_and_names_a_policy_per_function():
    config = json.loads((ROOT / ".chalice" / "config.json").read_text())
    assert config["app_name"] == "parley"
    assert config["autogen_policy"] is False
    assert config["api_gateway_stage"] == "api"
    dev = config["stages"]["dev"]
    assert {env_name(key) for key in REQUIRED_OUTPUTS} <= set(dev["environment_variables"])
    assert dev["environment_variables"]["FANOUT_QUEUE_NAME"] == "parley-dev-fanout"
    for name in FUNCTIONS:
        assert dev["lambda_functions"][name]["iam_policy_file"] == f"policy-dev-{name}.json"


def test_every_function_of_app_py_has_a_policy_template():
    assert chalice_project.app_functions(ROOT, "dev") <= FUNCTIONS.keys()
    assert chalice_project.check_functions(ROOT, "dev")
    for name in FUNCTIONS:
        assert (iam.TEMPLATES / f"{name}.json").exists(), name


def test_chalice_reads_the_written_stage_as_intended(project, outputs):
    chalice_dir = project / ".chalice"
    chalice_config.write_stage(chalice_dir, "local", outputs)
    iam.write_all(chalice_dir, "local", outputs, websocket_api_id="a1b2c3d4e5")

    view = chalice_view(project, "local")

    assert set(view) == chalice_project.app_functions(ROOT, "dev")  # every function app.py has today
    expected_env = {env_name(key): value for key, value in outputs.items()}
    for name, function in view.items():
        assert function["autogen_policy"] is False
        assert function["policy_file"] == str(chalice_dir / f"policy-local-{name}.json")
        assert Path(function["policy_file"]).exists()
        assert function["role_name"] == f"parley-local-{name}"  # a role per function
        assert function["function_name"] == FUNCTIONS[name].lambda_name("local")
        assert function["environment"] == {"POWERTOOLS_LOG_LEVEL": "INFO", **expected_env}
        assert (function["timeout"], function["memory"]) == (FUNCTIONS[name].timeout, FUNCTIONS[name].memory)
    if "fan_out" in view:  # the stage's queue, not dev's: Chalice set FANOUT_QUEUE_NAME while app.py loaded
        assert view["fan_out"]["sqs_queue"] == "parley-local-fanout"


def test_the_writer_keeps_what_it_does_not_own_and_drops_outputs_that_are_gone(tmp_path, outputs):
    chalice_dir = tmp_path / ".chalice"
    with_cloudfront = {**outputs, "CloudFrontDomain": "d1.cloudfront.net", "CloudFrontKeyPairId": "K1",
                       "CloudFrontPrivateKeyParameter": "/parley/prod/cloudfront-private-key"}
    chalice_config.write_stage(chalice_dir, "prod", with_cloudfront)
    config = chalice_config.read(chalice_dir)
    config["stages"]["prod"]["environment_variables"]["FEATURE_FLAG"] = "on"
    config["stages"]["prod"]["lambda_functions"]["process_media"]["lambda_memory_size"] = 3008
    config["autogen_policy"] = True
    chalice_config.write(chalice_dir, config)

    chalice_config.write_stage(chalice_dir, "prod", outputs)  # CloudFront turned off

    config = chalice_config.read(chalice_dir)
    stage = config["stages"]["prod"]
    assert config["autogen_policy"] is False
    assert stage["environment_variables"]["FEATURE_FLAG"] == "on"
    assert "CLOUD_FRONT_DOMAIN" not in stage["environment_variables"]
    assert stage["lambda_functions"]["process_media"]["lambda_memory_size"] == 3008
    assert stage["environment_variables"]["MEDIA_TABLE"] == outputs["MediaTable"]


def test_python_m_deploy_config_writes_from_an_outputs_file(tmp_path, project, outputs):
    describe_stacks = {"Stacks": [{"Outputs": [{"OutputKey": key, "OutputValue": value}
                                               for key, value in outputs.items()]}]}
    (tmp_path / "outputs.json").write_text(json.dumps(describe_stacks, default=str))

    deploy_main(["config", "--stage", "qa", "--outputs-json", str(tmp_path / "outputs.json"),
                 "--project-dir", str(project), "--websocket-api-id", "zz9plural"])

    config = json.loads((project / ".chalice" / "config.json").read_text())
    assert config["stages"]["qa"]["environment_variables"]["USERS_TABLE"] == outputs["UsersTable"]
    policy = json.loads((project / ".chalice" / "policy-qa-fan_out.json").read_text())
    assert "zz9plural/api/POST/@connections/*" in json.dumps(policy)


def test_bad_stage_names_are_refused():
    with pytest.raises(SystemExit):
        deploy_main(["config", "--stage", "Prod_1", "--outputs-json", "x.json"])
    with pytest.raises(SystemExit):
        deploy_main(["config", "--stage", "a" * 21, "--outputs-json", "x.json"])
