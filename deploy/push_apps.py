"""The SNS platform applications that pushes go through, one per platform, made from credentials the deployer
keeps in AWS Secrets Manager. CloudFormation has no resource type for them, so `python -m deploy up` makes (or
updates) them before the stack and passes their ARNs as the stack's parameters; `down` deletes them.

    parley/<stage>/apns   {"signing_key": "<the .p8 file's text>", "key_id": "...", "team_id": "...",
                           "bundle_id": "com.example.app", "sandbox": false}     (APNs token authentication)
    parley/<stage>/fcm    the Firebase service account's JSON key file, as downloaded  (FCM HTTP v1)

A platform without its secret gets no application: registering a device for it answers 400. docs/deploy.md.
"""
import json
import sys

PARAMETERS = {"apns": "ApnsApplicationArn", "fcm": "FcmApplicationArn"}


def secret_name(stage: str, platform: str) -> str:
    return f"parley/{stage}/{platform}"


def application_name(stage: str, platform: str) -> str:
    return f"parley-{stage}-{platform}"


def platform_settings(platform: str, secret: dict) -> tuple[str, dict[str, str]]:
    """SNS's platform name and the application's attributes, from a secret's JSON."""
    if platform == "apns":
        missing = sorted({"signing_key", "key_id", "team_id", "bundle_id"} - secret.keys())
        if missing:
            raise SystemExit(f"the apns secret lacks {', '.join(missing)}")
        return ("APNS_SANDBOX" if secret.get("sandbox") else "APNS"), {
            "PlatformCredential": secret["signing_key"], "PlatformPrincipal": secret["key_id"],
            "ApplePlatformTeamID": secret["team_id"], "ApplePlatformBundleID": secret["bundle_id"]}
    if secret.get("type") != "service_account":
        raise SystemExit("the fcm secret must be the Firebase service account's JSON key file")
    return "GCM", {"PlatformCredential": json.dumps(secret)}


def _existing(sns, name: str) -> dict[str, str]:
    """ARNs of the applications called `name`, by SNS platform name."""
    found = {}
    for page in sns.get_paginator("list_platform_applications").paginate():
        for application in page["PlatformApplications"]:
            arn = application["PlatformApplicationArn"]
            kind, _, app_name = arn.split(":")[5].removeprefix("app/").partition("/")
            if app_name == name:
                found[kind] = arn
    return found


def ensure(session, stage: str, out=sys.stderr) -> dict[str, str]:
    """Make or update each platform's application from its secret; answers the stack parameters naming them
    ("" for a platform without a secret)."""
    secrets, sns = session.client("secretsmanager"), session.client("sns")
    parameters = {}
    for platform, parameter in PARAMETERS.items():
        try:
            secret = json.loads(secrets.get_secret_value(SecretId=secret_name(stage, platform))["SecretString"])
        except secrets.exceptions.ResourceNotFoundException:
            print(f"no secret {secret_name(stage, platform)}: no {platform} pushes on this stage", file=out)
            parameters[parameter] = ""
            continue
        kind, attributes = platform_settings(platform, secret)
        name = application_name(stage, platform)
        existing = _existing(sns, name)
        for other_kind, arn in existing.items():
            if other_kind != kind:  # switched between APNs' sandbox and production
                sns.delete_platform_application(PlatformApplicationArn=arn)
        if kind in existing:
            sns.set_platform_application_attributes(PlatformApplicationArn=existing[kind], Attributes=attributes)
            parameters[parameter] = existing[kind]
        else:
            parameters[parameter] = sns.create_platform_application(Name=name, Platform=kind, Attributes=attributes)[
                "PlatformApplicationArn"]
        print(f"{platform} pushes through {parameters[parameter]}", file=out)
    return parameters


def remove(session, stage: str) -> None:
    sns = session.client("sns")
    for platform in PARAMETERS:
        for arn in _existing(sns, application_name(stage, platform)).values():
            sns.delete_platform_application(PlatformApplicationArn=arn)
