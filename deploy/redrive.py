"""`python -m deploy redrive`: what a stage's SQS consumers gave up on goes back to their queues.

SQS's own message move task (StartMessageMoveTask) does the moving; this finds the dead-letter queues, starts
one task per queue that holds anything, and with `wait` follows each task until it ends.
"""
import time

QUEUES = ("fanout", "media-events")  # the queue names after `parley-<stage>-`; each has a `-dlq`
POLL_SECONDS = 5


def redrive(sqs, stage: str, queues: tuple[str, ...] = QUEUES, wait: bool = False, say=print) -> dict[str, int]:
    """Answers, per queue, how many messages its dead-letter queue held when the move started."""
    waiting = {}
    for queue in queues:
        source_arn, dead_letters_arn, held = _arns_and_depth(sqs, f"parley-{stage}-{queue}")
        waiting[queue] = held
        if not held:
            say(f"{queue}: its dead-letter queue is empty")
            continue
        sqs.start_message_move_task(SourceArn=dead_letters_arn, DestinationArn=source_arn)
        say(f"{queue}: moving about {held} messages back from {dead_letters_arn.rsplit(':', 1)[1]}")
        while wait:
            task = sqs.list_message_move_tasks(SourceArn=dead_letters_arn, MaxResults=1)["Results"][0]
            if task["Status"] != "RUNNING":
                say(f"{queue}: {task['Status'].lower()}, {task.get('ApproximateNumberOfMessagesMoved', 0)} moved"
                    + (f" ({task['FailureReason']})" if task.get("FailureReason") else ""))
                break
            time.sleep(POLL_SECONDS)
    return waiting


def _arns_and_depth(sqs, queue_name: str) -> tuple[str, str, int]:
    source = sqs.get_queue_attributes(QueueUrl=sqs.get_queue_url(QueueName=queue_name)["QueueUrl"],
                                      AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    dead_letters = sqs.get_queue_attributes(QueueUrl=sqs.get_queue_url(QueueName=f"{queue_name}-dlq")["QueueUrl"],
                                            AttributeNames=["QueueArn", "ApproximateNumberOfMessages"])["Attributes"]
    return source, dead_letters["QueueArn"], int(dead_letters["ApproximateNumberOfMessages"])
