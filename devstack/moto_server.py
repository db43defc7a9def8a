"""moto's server, answering one request at a time, with transactions that cost what they touch.

moto's backends are not thread-safe: a transaction that fails restores a snapshot of the whole table,
undoing what concurrent requests wrote meanwhile, and conditional writes check and write in two steps.
AWS is atomic there, and Parley relies on it, so the stand-in must be too. moto also deep-copies every
table a transaction names, so each send would cost time in proportion to all the messages ever stored;
here a transaction saves and restores only the items it touches.
"""
import argparse
import copy
import os
import threading

from moto.dynamodb import models as dynamodb_models
from moto.server import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import run_simple


class _TablesAreNotCopied:
    """Stands in for the `copy` module inside moto's DynamoDB models: tables pass through uncopied."""

    @staticmethod
    def deepcopy(value, *args):
        return value if isinstance(value, dynamodb_models.Table) else copy.deepcopy(value, *args)


def _item_key(backend, operation: dict) -> tuple[str, dict]:
    table = backend.get_table(operation["TableName"])
    if "Key" in operation:
        return operation["TableName"], operation["Key"]
    key = {table.hash_key_attr: operation["Item"][table.hash_key_attr]}
    if table.range_key_attr is not None:
        key[table.range_key_attr] = operation["Item"][table.range_key_attr]
    return operation["TableName"], key


def _transact_touching_only_its_items(original):
    def transact_write_items(backend, transact_items):
        saved = []
        for action in transact_items:
            operation = next(iter(action.values()))
            if operation.get("TableName") in backend.tables:
                table_name, key = _item_key(backend, operation)
                current = backend.get_item(table_name, key)
                saved.append((table_name, key, current.to_json()["Attributes"] if current else None))
        try:
            return original(backend, transact_items)
        except Exception:
            for table_name, key, attributes in reversed(saved):
                if attributes is None:
                    backend.delete_item(table_name, key)
                else:
                    backend.put_item(table_name, attributes)
            raise
    return transact_write_items


def patch_dynamodb() -> None:
    dynamodb_models.copy = _TablesAreNotCopied
    backend_class = dynamodb_models.DynamoDBBackend
    backend_class.transact_write_items = _transact_touching_only_its_items(backend_class.transact_write_items)


def one_at_a_time(app):
    lock = threading.Lock()

    def serve(environ, start_response):
        with lock:
            return list(app(environ, start_response))
    return serve


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    os.environ.setdefault("MOTO_PORT", str(args.port))
    patch_dynamodb()
    run_simple("127.0.0.1", args.port, one_at_a_time(DomainDispatcherApplication(create_backend_app)),
               threaded=True, request_handler=MotoRequestHandler)


if __name__ == "__main__":
    main()
