"""`python -m devstack [--port N]`: the whole local stack in one process; Ctrl-C stops all of it.

AWS's own limits, settable for tests: DEVSTACK_SOCKET_IDLE_SECONDS (600) and DEVSTACK_SOCKET_MAX_SECONDS (7200)
close sockets as API Gateway does; DEVSTACK_TTL_LAG_SECONDS (300) and DEVSTACK_TTL_EVERY_SECONDS (30) delete
expired items as DynamoDB's TTL does, late.
"""
import argparse
import gc
import os
import sys
import threading

import boto3
from aiohttp import web

from devstack import moto_server
from devstack.accounting import Accounting
from devstack.aws import FAKE_CREDENTIALS, ROOT, deploy, free_port
from devstack.gateway import IDLE_SECONDS, MAX_SECONDS, Gateway
from devstack.pushes import Pushes
from devstack.throttling import Throttling
from devstack.triggers import Triggers

TTL_LAG = 300  # seconds past expiry before the stand-in deletes an item (AWS: typically within two days)
TTL_EVERY = 30  # seconds between the stand-in's TTL sweeps


def _freeze_after_full_collections() -> None:
    """moto keeps every item as Python objects, and a full collection scanned them all: pauses of 150-300 ms
    under the bench's data, the whole tail of its latency. Survivors of each full collection are frozen, so
    the next one scans only what is newer (20-65 ms). Stored items do not die in cycles, so little that
    freezing keeps would have been collected."""
    def freeze(phase, info):
        if phase == "stop" and info["generation"] == 2:
            gc.freeze()
    gc.callbacks.append(freeze)


def main() -> None:
    _freeze_after_full_collections()
    parser = argparse.ArgumentParser(prog="devstack", description=__doc__)
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", 8000)))
    args = parser.parse_args()

    os.environ.update(FAKE_CREDENTIALS)
    moto_lock = threading.RLock()
    moto_server.patch_dynamodb()
    moto_server.patch_s3()
    with moto_server.in_process(moto_lock):
        moto_port = free_port()
        moto_server.serve(moto_port, moto_lock)
        endpoint = f"http://127.0.0.1:{moto_port}"
        env = deploy()
        # S3 over HTTP, so that the upload URLs the app signs are ones a browser can post to
        os.environ.update(env, JWKS_URL=f"{endpoint}/{env['USER_POOL_ID']}/.well-known/jwks.json",
                          AWS_ENDPOINT_URL_S3=endpoint, CONNECTIONS_ENDPOINT=f"http://127.0.0.1:{args.port}",
                          POWERTOOLS_METRICS_DISABLED="true", POWERTOOLS_LOG_LEVEL="WARNING")
        sys.path.insert(0, str(ROOT))
        import app

        accounting = Accounting.install(app, announced=endpoint)  # before the app and the SQS pollers build clients
        gateway = Gateway(app, args.port, accounting.under_way,
                          idle_seconds=float(os.environ.get("DEVSTACK_SOCKET_IDLE_SECONDS", IDLE_SECONDS)),
                          max_seconds=float(os.environ.get("DEVSTACK_SOCKET_MAX_SECONDS", MAX_SECONDS)))
        gateway.answer_connections_calls(boto3.DEFAULT_SESSION)
        moto_server.unsigned(boto3.DEFAULT_SESSION)
        throttling = Throttling()
        throttling.hook(boto3.DEFAULT_SESSION)
        web_app = gateway.web_app()
        triggers = Triggers(app, gateway.invoke_lambda, boto3.client("sqs"))
        triggers.routes(web_app)
        moto_server.on_enqueue(triggers.enqueued)
        moto_server.TimeToLive(moto_lock, lag=float(os.environ.get("DEVSTACK_TTL_LAG_SECONDS", TTL_LAG)),
                               every=float(os.environ.get("DEVSTACK_TTL_EVERY_SECONDS", TTL_EVERY))).routes(web_app)
        accounting.routes(web_app)
        throttling.routes(web_app)
        pushes = Pushes()
        pushes.install()
        pushes.routes(web_app)
        moto_server.routes(web_app, env["CONNECTIONS_TABLE"])
        print(f"Parley local stack on http://127.0.0.1:{args.port} (REST /api, WebSocket /ws); moto on {endpoint}",
              flush=True)
        web.run_app(web_app, host="127.0.0.1", port=args.port, print=None)


if __name__ == "__main__":
    main()
