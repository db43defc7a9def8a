"""python -m deploy {up,down,config,webconfig,redrive} --stage STAGE

  up         deploy infra/parley.yaml (CloudFormation), write its outputs and the per-function IAM policies
             into .chalice/, then `chalice deploy --stage` (what `make deploy STAGE=...` runs)
  down       `chalice delete --stage`, then delete the stack; user data is kept unless --purge
             (what `make destroy STAGE=...` runs)
  config     only write .chalice/ from given stack outputs (offline; what `up` does between its steps)
  webconfig  print the web client's `window.PARLEY_CONFIG` for a deployed stage
  redrive    move what the fan-out and media consumers gave up on (their DLQs) back to their queues
  reports    list the reports users made of messages, newest first (moderators; --local URL for a local stack)

AWS credentials and region come from the usual places (AWS_PROFILE, AWS_REGION, ~/.aws) or --profile and
--region. See docs/deploy.md.
"""
import argparse
import json
import re
import sys
from pathlib import Path

from deploy import chalice_config, iam, project
from deploy import outputs as stack_outputs
from deploy.template import ROOT


def _session(args):
    import boto3

    session = boto3.Session(profile_name=args.profile, region_name=args.region)
    if not session.region_name:
        raise SystemExit("no AWS region: pass --region or set AWS_REGION / AWS_DEFAULT_REGION")
    return session


def _chalice_env(args, session) -> dict[str, str]:
    env = {"AWS_DEFAULT_REGION": session.region_name, "AWS_REGION": session.region_name}
    if args.profile:
        env["AWS_PROFILE"] = args.profile
    return env


def write_config(project_dir: Path, stage: str, outputs: dict[str, str], websocket_api_id: str | None) -> None:
    chalice_dir = project.chalice_dir(project_dir)
    path = chalice_config.write_stage(chalice_dir, stage, outputs)
    written = iam.write_all(chalice_dir, stage, outputs, websocket_api_id)
    print(f"wrote {path.relative_to(project_dir)} (stage {stage}) and {len(written)} policies "
          f"({'with' if websocket_api_id else 'without'} the WebSocket API's @connections)", file=sys.stderr)


def cmd_up(args) -> None:
    from deploy import push_apps
    from deploy.stack import Stack, cloudfront_public_key

    project_dir = args.project_dir
    project.check_functions(project_dir, args.stage)
    session = _session(args)
    stack = Stack(session, args.stage)
    previous = stack.parameters()
    cloudfront = args.cloudfront if args.cloudfront is not None else previous.get("EnableCloudFront") == "true"
    parameters = {
        "Stage": args.stage,
        "EnableCloudFront": "true" if cloudfront else "false",
        "CloudFrontPublicKey": cloudfront_public_key(session, args.stage) if cloudfront else "",
        "AlarmEmail": args.alarm_email if args.alarm_email is not None else previous.get("AlarmEmail", ""),
        **push_apps.ensure(session, args.stage),
    }
    outputs = stack.deploy(parameters)

    api_id = project.websocket_api_id(project_dir, args.stage)
    write_config(project_dir, args.stage, outputs, api_id)
    env = _chalice_env(args, session)
    project.run_chalice(project_dir, "deploy", "--stage", args.stage, env=env)
    if api_id is None:
        # First deploy: the WebSocket API exists only now. Name it in the policies and update the roles.
        api_id = project.websocket_api_id(project_dir, args.stage)
        if api_id:
            write_config(project_dir, args.stage, outputs, api_id)
            project.run_chalice(project_dir, "deploy", "--stage", args.stage, env=env)
    urls = project.stage_urls(project_dir, args.stage)
    print(f"\nstage {args.stage} is up:\n  REST      {urls.get('apiBase', '?')}\n  WebSocket {urls.get('wsBase', '?')}"
          + (f"\n  media CDN https://{outputs['CloudFrontDomain']}" if outputs.get("CloudFrontDomain") else "")
          + f"\nweb client: python -m deploy webconfig --stage {args.stage} > webclient/stage-config.js",
          file=sys.stderr)


def cmd_down(args) -> None:
    from deploy import push_apps
    from deploy.stack import Stack

    project_dir = args.project_dir
    session = _session(args)
    if project.deployed(project_dir, args.stage):
        project.run_chalice(project_dir, "delete", "--stage", args.stage, env=_chalice_env(args, session))
    stack = Stack(session, args.stage)
    kept = stack.retained(stack.outputs()) if stack.describe() else {}
    stack.delete()
    push_apps.remove(session, args.stage)
    for path in project.chalice_dir(project_dir).glob(f"policy-{args.stage}-*.json"):
        path.unlink()
    if not kept:
        return
    if not args.purge:
        print("kept (DeletionPolicy: Retain; `make destroy STAGE=... PURGE=1` deletes them):\n"
              + "\n".join(f"  {key}: {value}" for key, value in kept.items()), file=sys.stderr)
        return
    if not args.yes:
        answer = input(f"delete every table, object and account of stage {args.stage}? type the stage name: ")
        if answer.strip() != args.stage:
            raise SystemExit("not purged")
    stack.purge(kept)


def cmd_config(args) -> None:
    outputs = stack_outputs.load(args.outputs_json)
    api_id = args.websocket_api_id or project.websocket_api_id(args.project_dir, args.stage)
    write_config(args.project_dir, args.stage, outputs, api_id)


def cmd_webconfig(args) -> None:
    urls = project.stage_urls(args.project_dir, args.stage)
    if not urls:
        raise SystemExit(f"stage {args.stage} is not deployed (no .chalice/deployed/{args.stage}.json)")
    print("// Written by `python -m deploy webconfig`; load it before app.js (see webclient/README.md).")
    print(f"window.PARLEY_CONFIG = {json.dumps(urls, indent=2)};")


def cmd_redrive(args) -> None:
    from deploy.redrive import QUEUES, redrive

    redrive(_session(args).client("sqs"), args.stage, tuple(args.queue or QUEUES), wait=args.wait)


def cmd_reports(args) -> None:
    from deploy.reports import local_table, print_reports
    from deploy.stack import Stack

    if args.local:
        resource, table = local_table(args.local)
    else:
        session = _session(args)
        resource, table = session.resource("dynamodb"), Stack(session, args.stage).outputs()["ChatsTable"]
    shown = print_reports(resource, table, args.limit, args.before)
    more = f"; older ones: --before {shown[-1]['reported_at']}" if len(shown) == args.limit else ""
    print(f"{len(shown)} report(s){more}", file=sys.stderr)


def parser() -> argparse.ArgumentParser:
    main = argparse.ArgumentParser(prog="python -m deploy", description=__doc__,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = main.add_subparsers(dest="command", required=True)

    def command(name, handler, help_text):
        sub = commands.add_parser(name, help=help_text)
        sub.add_argument("--stage", default="dev",
                         help="stage name: a-z, 0-9, '-', at most 20 characters (default: dev)")
        sub.add_argument("--project-dir", type=Path, default=ROOT, help=argparse.SUPPRESS)
        sub.set_defaults(handler=handler)
        return sub

    def aws(sub):
        sub.add_argument("--profile", help="AWS profile (default: the usual credential chain)")
        sub.add_argument("--region", help="AWS region (default: AWS_REGION / AWS_DEFAULT_REGION / profile)")

    up = command("up", cmd_up, "deploy the stack, write .chalice/, chalice deploy")
    aws(up)
    up.add_argument("--cloudfront", action=argparse.BooleanOptionalAction, default=None,
                    help="serve media through CloudFront with signed URLs (default: as the stage already is)")
    up.add_argument("--alarm-email", help="subscribe this address to the stage's alarms ('' for none)")

    down = command("down", cmd_down, "chalice delete, delete the stack")
    aws(down)
    down.add_argument("--purge", action="store_true",
                      help="also delete the retained tables, media bucket, user pool and signing key")
    down.add_argument("--yes", action="store_true", help="do not ask before --purge")

    config = command("config", cmd_config, "write .chalice/ from stack outputs, offline")
    config.add_argument("--outputs-json", required=True, type=Path,
                        help="{OutputKey: value}, or `aws cloudformation describe-stacks` output")
    config.add_argument("--websocket-api-id", help="default: from .chalice/deployed/<stage>.json, if any")

    command("webconfig", cmd_webconfig, "print window.PARLEY_CONFIG for the web client")

    redrive = command("redrive", cmd_redrive, "move the DLQs' messages back to their queues")
    aws(redrive)
    redrive.add_argument("--queue", action="append", choices=["fanout", "media-events"],
                         help="only this queue (repeatable; default: both)")
    redrive.add_argument("--wait", action="store_true", help="follow each move until it ends")

    reports = command("reports", cmd_reports, "list the reports of messages, newest first")
    aws(reports)
    reports.add_argument("--limit", type=int, default=50, help="at most this many (default 50)")
    reports.add_argument("--before", help="only reports made before this time (ISO 8601, as `reported_at`)")
    reports.add_argument("--local", metavar="URL", help="a local stack's base URL instead of the stage on AWS")
    return main


def main(argv: list[str] | None = None) -> None:
    args = parser().parse_args(argv)
    if not re.fullmatch(r"[a-z0-9-]{1,20}", args.stage):
        raise SystemExit(f"bad stage {args.stage!r}: use a-z, 0-9 and '-', at most 20 characters")
    args.project_dir = args.project_dir.resolve()
    args.handler(args)


if __name__ == "__main__":
    main()
