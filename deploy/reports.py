"""`python -m deploy reports`: the reports users made of messages, newest first, for moderators (one JSON object
a line: the report, with the reported message and up to five before it as they were when reported).

On AWS it reads the stage's chats table with your credentials; `--local URL` reads a local stack's instead.
"""
import json
import sys
import urllib.request

from chalicelib.storage.dynamodb.reports import DynamoReportStore
from devstack.aws import FAKE_CREDENTIALS


def local_table(base: str):
    """The chats table of a local stack at `base` (its moto endpoint, from GET /_devstack/aws)."""
    import boto3

    with urllib.request.urlopen(f"{base.rstrip('/')}/_devstack/aws", timeout=10) as answer:
        aws = json.load(answer)
    resource = boto3.resource("dynamodb", region_name=aws["region"] or "us-east-1", endpoint_url=aws["endpoint_url"],
                              aws_access_key_id=FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"],
                              aws_secret_access_key=FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"])
    return resource, aws["tables"]["chats"]


def print_reports(resource, chats_table: str, limit: int, before: str | None, out=sys.stdout) -> list[dict]:
    reports = DynamoReportStore(resource, chats_table).newest(limit, before)
    for report in reports:
        print(json.dumps(report, ensure_ascii=False), file=out)
    return reports
