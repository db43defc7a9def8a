"""The cold-start budget of issue 8: `import app` costs at most 1.25x `import boto3` (deploy/coldstart.py)."""
import statistics

from deploy import coldstart


def test_importing_the_app_costs_at_most_125_percent_of_boto3():
    env = coldstart.lambda_environment()
    assert env["CHATS_TABLE"].startswith("dummy") and env["AWS_REGION"] == "us-east-1"
    boto3 = statistics.median(coldstart.measure(coldstart.TIMER.format(module="boto3"), 3, env))
    app = statistics.median(coldstart.measure(coldstart.TIMER.format(module="app"), 3, env))
    assert app <= coldstart.TARGET_RATIO * boto3, (
        f"import app {app * 1000:.0f} ms vs import boto3 {boto3 * 1000:.0f} ms; heaviest: "
        f"{coldstart.heaviest(env, 8)}")
