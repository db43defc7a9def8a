"""Reports on the chats table, in one partition for moderators to page through, newest first:
("reports", "{reported_at}#{report_id}"), the copied messages as JSON. Reports are rare (each is a user's
deliberate act, rate-limited), so one partition is far from its limits."""
import json

from boto3.dynamodb.conditions import Key

PARTITION = "reports"


class DynamoReportStore:
    def __init__(self, resource, chats_table: str):
        self._table = resource.Table(chats_table)

    def add(self, report: dict) -> None:
        self._table.put_item(Item={"chat_id": PARTITION, "sk": f"{report['reported_at']}#{report['report_id']}",
                                   "report": json.dumps(report, ensure_ascii=False)})

    def newest(self, limit: int, before: str | None = None) -> list[dict]:
        condition = Key("chat_id").eq(PARTITION)
        if before:
            condition &= Key("sk").lt(before)
        items = self._table.query(KeyConditionExpression=condition, ScanIndexForward=False, Limit=limit)["Items"]
        return [json.loads(item["report"]) for item in items]
