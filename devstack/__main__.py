"""`python -m devstack [--port N]`: the whole local stack in one process tree; Ctrl-C stops all of it."""
import argparse
import os
import sys

import boto3
from aiohttp import web

from devstack.accounting import Accounting
from devstack.aws import FAKE_CREDENTIALS, ROOT, deploy, free_port, start_moto
from devstack.gateway import Gateway
from devstack.triggers import Triggers


def main() -> None:
    parser = argparse.ArgumentParser(prog="devstack", description=__doc__)
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", 8000)))
    args = parser.parse_args()

    moto_port = free_port()
    moto = start_moto(moto_port)
    try:
        endpoint = f"http://127.0.0.1:{moto_port}"
        os.environ.update(FAKE_CREDENTIALS)
        os.environ.update(deploy(endpoint))
        os.environ.update(AWS_ENDPOINT_URL=endpoint, CONNECTIONS_ENDPOINT=f"http://127.0.0.1:{args.port}",
                          POWERTOOLS_METRICS_DISABLED="true", POWERTOOLS_LOG_LEVEL="WARNING")
        sys.path.insert(0, str(ROOT))
        import app

        accounting = Accounting.install(app, endpoint)  # before the app and the SQS pollers build clients
        gateway = Gateway(app, args.port, accounting.under_way)
        web_app = gateway.web_app()
        Triggers(app, gateway.invoke_lambda, boto3.client("sqs", endpoint_url=endpoint)).routes(web_app)
        accounting.routes(web_app)
        print(f"Parley local stack on http://127.0.0.1:{args.port} (REST /api, WebSocket /ws); moto on {endpoint}",
              flush=True)
        web.run_app(web_app, host="127.0.0.1", port=args.port, print=None)
    finally:
        moto.terminate()
        moto.wait(timeout=10)


if __name__ == "__main__":
    main()
