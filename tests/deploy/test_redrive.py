"""`python -m deploy redrive`: SQS's own message move task, started for each dead-letter queue that holds
anything (moto has no StartMessageMoveTask, so botocore's Stubber stands in for SQS)."""
import boto3
from botocore.stub import Stubber

from deploy.redrive import redrive

ARN = "arn:aws:sqs:eu-west-1:123456789012:parley-prod-{}"


def expect_queue(stubber: Stubber, name: str, held: int) -> None:
    for queue, attributes in ((name, {"QueueArn": ARN.format(name)}),
                              (f"{name}-dlq", {"QueueArn": ARN.format(f"{name}-dlq"),
                                               "ApproximateNumberOfMessages": str(held)})):
        url = f"https://sqs.eu-west-1.amazonaws.com/123456789012/parley-prod-{queue}"
        stubber.add_response("get_queue_url", {"QueueUrl": url}, {"QueueName": f"parley-prod-{queue}"})
        stubber.add_response("get_queue_attributes", {"Attributes": attributes},
                             {"QueueUrl": url, "AttributeNames": list(attributes)})


def test_a_move_task_per_dead_letter_queue_that_holds_anything_followed_to_its_end(monkeypatch):
    monkeypatch.setattr("deploy.redrive.time.sleep", lambda seconds: None)
    sqs = boto3.client("sqs", region_name="eu-west-1", aws_access_key_id="x", aws_secret_access_key="x")
    said = []
    with Stubber(sqs) as stubber:
        expect_queue(stubber, "fanout", held=3)
        stubber.add_response("start_message_move_task", {"TaskHandle": "h"},
                             {"SourceArn": ARN.format("fanout-dlq"), "DestinationArn": ARN.format("fanout")})
        for status, moved in (("RUNNING", 1), ("COMPLETED", 3)):
            stubber.add_response("list_message_move_tasks", {"Results": [
                {"Status": status, "ApproximateNumberOfMessagesMoved": moved}]},
                {"SourceArn": ARN.format("fanout-dlq"), "MaxResults": 1})
        expect_queue(stubber, "media-events", held=0)

        assert redrive(sqs, "prod", wait=True, say=said.append) == {"fanout": 3, "media-events": 0}
        stubber.assert_no_pending_responses()
    assert said == ["fanout: moving about 3 messages back from parley-prod-fanout-dlq", "fanout: completed, 3 moved",
                    "media-events: its dead-letter queue is empty"]
