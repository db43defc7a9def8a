"""The deploy path, checked without an AWS account: the template on moto's CloudFormation, the config writer
against Chalice's own loader, the rendered IAM policies, `chalice package` and the cold-start script."""
import shutil
import socket
import sys
import warnings
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from devstack.aws import FAKE_CREDENTIALS, REGION, deploy

ROOT = Path(__file__).resolve().parents[2]
STAGE = "local"  # the stage devstack.aws.deploy uses


def pytest_configure(config):
    config.addinivalue_line("markers", "network: needs PyPI (skipped when it cannot be reached)")


def _app_modules() -> dict:
    return {name: module for name, module in sys.modules.items()
            if name == "app" or name.split(".")[0] == "chalicelib"}


@pytest.fixture(autouse=True)
def isolated_app_imports():
    """Chalice loads a project by putting its folder first on sys.path and importing `app`: undo that after
    each test, so that a copied project's app.py never stands in for the real one in later tests."""
    path, modules = list(sys.path), _app_modules()
    yield
    sys.path[:] = path
    for name in _app_modules().keys() - modules.keys():
        del sys.modules[name]
    sys.modules.update(modules)


@pytest.fixture
def aws(monkeypatch):
    for name, value in FAKE_CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", ".*not supported by moto's CloudFormation")
        with mock_aws():
            yield boto3.Session(region_name=REGION)


@pytest.fixture
def local_stack(aws):
    """infra/parley.yaml in moto, deployed exactly as the local stack and the app's tests deploy it."""
    env = deploy()
    outputs = {item["OutputKey"]: item["OutputValue"] for item in aws.client("cloudformation").describe_stacks(
        StackName=f"parley-{STAGE}")["Stacks"][0].get("Outputs", [])}
    return env, outputs


@pytest.fixture(scope="session")
def outputs() -> dict[str, str]:
    """The stack's outputs as on AWS, from one moto deploy per session (they are plain values). moto's
    CloudFormation skips Cognito, so the pool that devstack.aws.deploy creates by API stands in for it."""
    with pytest.MonkeyPatch.context() as patch, warnings.catch_warnings():
        for name, value in FAKE_CREDENTIALS.items():
            patch.setenv(name, value)
        warnings.filterwarnings("ignore", ".*not supported by moto's CloudFormation")
        with mock_aws():
            env = deploy()
            session = boto3.Session(region_name=REGION)
            outputs = {item["OutputKey"]: item["OutputValue"] for item in session.client(
                "cloudformation").describe_stacks(StackName=f"parley-{STAGE}")["Stacks"][0].get("Outputs", [])}
            pool = session.client("cognito-idp").describe_user_pool(UserPoolId=env["USER_POOL_ID"])["UserPool"]
    return {**outputs, "UserPoolId": pool["Id"], "UserPoolClientId": env["USER_POOL_CLIENT_ID"],
            "UserPoolArn": pool["Arn"]}


@pytest.fixture
def project(tmp_path) -> Path:
    """A copy of the Chalice project (app.py, chalicelib/, requirements.txt, .chalice/config.json)."""
    copy = tmp_path / "project"
    copy.mkdir()
    shutil.copy(ROOT / "app.py", copy / "app.py")
    shutil.copy(ROOT / "requirements.txt", copy / "requirements.txt")
    shutil.copytree(ROOT / "chalicelib", copy / "chalicelib", ignore=shutil.ignore_patterns("__pycache__"))
    (copy / ".chalice").mkdir()
    shutil.copy(ROOT / ".chalice" / "config.json", copy / ".chalice" / "config.json")
    return copy


def pypi_reachable() -> bool:
    try:
        socket.create_connection(("pypi.org", 443), timeout=3).close()
        return True
    except OSError:
        return False
