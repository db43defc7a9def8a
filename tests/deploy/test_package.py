"""`chalice package` of the configured project: the SAM template it writes is cfn-lint clean, names our policy
files' documents, and the Lambda zip stays under Lambda's 50 MB upload limit.

Chalice downloads Lambda-platform (manylinux) wheels from PyPI for requirements.txt, so this needs the
network; it is skipped when PyPI cannot be reached. About 10 s here.
"""
import json
import os
import subprocess
import sys

import pytest
from cfnlint.api import lint_file

from deploy import chalice_config, iam, lambda_zip
from deploy.functions import FUNCTIONS
from tests.deploy.conftest import ROOT, pypi_reachable

RUNTIME = f"python{sys.version_info[0]}.{sys.version_info[1]}"  # Chalice deploys the local Python's version
API_ID = "a1b2c3d4e5"

pytestmark = [pytest.mark.network, pytest.mark.timeout(600)]


@pytest.fixture(scope="module")
def packaged(tmp_path_factory, outputs):
    if not pypi_reachable():
        pytest.skip("PyPI is not reachable: chalice package needs it for Lambda wheels")
    import shutil
    project = tmp_path_factory.mktemp("package") / "project"
    project.mkdir()
    for name in ("app.py", "requirements.txt"):
        shutil.copy(ROOT / name, project / name)
    shutil.copytree(ROOT / "chalicelib", project / "chalicelib", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(ROOT / ".chalice", project / ".chalice",
                    ignore=shutil.ignore_patterns("deployed", "deployments", "policy-*.json"))
    chalice_config.write_stage(project / ".chalice", "dev", outputs)
    iam.write_all(project / ".chalice", "dev", outputs, API_ID)
    out = project.parent / "out"
    env = {**os.environ, "AWS_DEFAULT_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "testing",
           "AWS_SECRET_ACCESS_KEY": "testing"}
    subprocess.run([sys.executable, "-c", "import sys; from chalice.cli import main; sys.exit(main())",
                    "--project-dir", str(project), "package", "--stage", "dev", str(out)],
                   check=True, env=env, cwd=project, capture_output=True, text=True, timeout=540)
    return project, out


def test_the_sam_template_is_cfn_lint_clean(packaged):
    _, out = packaged
    assert [str(problem) for problem in lint_file(out / "sam.json")] == []


def test_the_sam_template_carries_our_policies_and_no_generated_one(packaged, outputs):
    project, out = packaged
    template = json.loads((out / "sam.json").read_text())
    roles = {name: resource for name, resource in template["Resources"].items()
             if resource["Type"] == "AWS::IAM::Role"}
    documents = [policy["PolicyDocument"] for role in roles.values() for policy in role["Properties"]["Policies"]]
    expected = iam.render_all("dev", outputs, API_ID)
    functions = [resource for resource in template["Resources"].values()
                 if resource["Type"] == "AWS::Serverless::Function"]
    assert len(roles) == len(functions)  # a role per function
    for document in documents:
        assert document in expected.values()
    for function in functions:
        assert function["Properties"]["Environment"]["Variables"]["CHATS_TABLE"] == outputs["ChatsTable"]
        assert function["Properties"]["Timeout"] <= max(f.timeout for f in FUNCTIONS.values())


def test_the_lambda_zip_is_under_50_mb(packaged, record_property):
    _, out = packaged
    report = lambda_zip.inspect(out / "deployment.zip", RUNTIME)
    record_property("lambda_zip_bytes", report["zipped"])
    print(f"\nLambda deployment.zip: {report['zipped'] / 1e6:.1f} MB zipped,"
          f" {report['unzipped'] / 1e6:.1f} MB unzipped")
    assert report["zipped"] < lambda_zip.ZIP_LIMIT
    assert report["unzipped"] < lambda_zip.UNZIPPED_LIMIT


def test_every_native_library_in_the_zip_loads_on_the_lambda_runtime(packaged):
    """Chalice builds a package from its sdist on this machine when PyPI has no wheel for the runtime's
    glibc (python3.11: Amazon Linux 2, glibc 2.26); such a build links this machine's libraries and fails
    to import on Lambda. Fix it with a version that has a manylinux2014 wheel, or a Python 3.12+ runtime."""
    _, out = packaged
    problems = [problem for problem in lambda_zip.inspect(out / "deployment.zip", RUNTIME)["problems"]
                if "MB" not in problem]
    assert problems == []
