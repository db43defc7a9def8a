"""The CloudFormation stack `parley-<stage>` from infra/parley.yaml, through boto3, and what it keeps."""
import sys
import time

from deploy.template import TEMPLATE

POLL_SECONDS = 5
WAIT_ATTEMPTS = 720  # an hour: a CloudFront distribution alone can take 15 minutes


def stack_name(stage: str) -> str:
    return f"parley-{stage}"


def cloudfront_key_parameter(stage: str) -> str:
    """The SSM SecureString that holds the private half of the CloudFront signing key (see the template)."""
    return f"/parley/{stage}/cloudfront-private-key"


class Stack:
    def __init__(self, session, stage: str, out=sys.stderr):
        self.session = session
        self.stage = stage
        self.name = stack_name(stage)
        self.cloudformation = session.client("cloudformation")
        self._out = out

    def say(self, text: str) -> None:
        print(text, file=self._out, flush=True)

    def describe(self) -> dict | None:
        try:
            return self.cloudformation.describe_stacks(StackName=self.name)["Stacks"][0]
        except self.cloudformation.exceptions.ClientError as error:
            if "does not exist" in str(error):
                return None
            raise

    def outputs(self) -> dict[str, str]:
        stack = self.describe()
        if stack is None:
            raise SystemExit(f"no stack {self.name}: run `python -m deploy up --stage {self.stage}` first")
        return {item["OutputKey"]: item["OutputValue"] for item in stack.get("Outputs", [])}

    def parameters(self) -> dict[str, str]:
        stack = self.describe() or {}
        return {item["ParameterKey"]: item.get("ParameterValue", "") for item in stack.get("Parameters", [])}

    def deploy(self, parameters: dict[str, str]) -> dict[str, str]:
        """Create or update the stack, wait until it settles, answer its outputs."""
        body = TEMPLATE.read_text()
        params = [{"ParameterKey": key, "ParameterValue": value} for key, value in parameters.items()]
        started = time.time()
        stack = self.describe()
        if stack is not None and stack["StackStatus"] == "ROLLBACK_COMPLETE":
            raise SystemExit(f"{self.name} failed to create and rolled back; see its events, remove it with "
                             f"`python -m deploy down --stage {self.stage}`, then deploy again")
        if stack is None:
            self.say(f"creating stack {self.name} ...")
            self.cloudformation.create_stack(StackName=self.name, TemplateBody=body, Parameters=params,
                                             Tags=[{"Key": "app", "Value": "parley"},
                                                   {"Key": "stage", "Value": self.stage}])
            waiter = "stack_create_complete"
        else:
            self.say(f"updating stack {self.name} ...")
            try:
                self.cloudformation.update_stack(StackName=self.name, TemplateBody=body, Parameters=params)
            except self.cloudformation.exceptions.ClientError as error:
                if "No updates are to be performed" not in str(error):
                    raise
                self.say("  no changes")
                return self.outputs()
            waiter = "stack_update_complete"
        try:
            self.cloudformation.get_waiter(waiter).wait(
                StackName=self.name, WaiterConfig={"Delay": POLL_SECONDS, "MaxAttempts": WAIT_ATTEMPTS})
        except Exception as error:
            self._report_failures(started)
            raise SystemExit(f"{self.name}: {error}") from None
        self.say(f"  {self.name} is {(self.describe() or {}).get('StackStatus')}")
        return self.outputs()

    def _report_failures(self, since: float) -> None:
        events = self.cloudformation.describe_stack_events(StackName=self.name)["StackEvents"]
        for event in reversed(events):
            if event["Timestamp"].timestamp() >= since - 60 and event["ResourceStatus"].endswith("_FAILED"):
                self.say(f"  {event['LogicalResourceId']}: {event.get('ResourceStatusReason', '')}")

    def delete(self) -> None:
        if self.describe() is None:
            self.say(f"no stack {self.name}")
            return
        self.say(f"deleting stack {self.name} ...")
        self.cloudformation.delete_stack(StackName=self.name)
        self.cloudformation.get_waiter("stack_delete_complete").wait(
            StackName=self.name, WaiterConfig={"Delay": POLL_SECONDS, "MaxAttempts": WAIT_ATTEMPTS})
        self.say(f"  {self.name} deleted")

    def retained(self, outputs: dict[str, str]) -> dict[str, str]:
        """What deleting the stack leaves behind (DeletionPolicy: Retain): user data."""
        kept = {key: outputs[key] for key in ("UsersTable", "ChatsTable", "MessagesTable", "MediaTable",
                                              "MediaBucket", "UserPoolId") if outputs.get(key)}
        if outputs.get("CloudFrontPrivateKeyParameter"):
            kept["CloudFrontPrivateKeyParameter"] = outputs["CloudFrontPrivateKeyParameter"]
        return kept

    def purge(self, kept: dict[str, str]) -> None:
        """Delete what the stack retained: every table, object and account of the stage. No way back."""
        dynamodb = self.session.client("dynamodb")
        for key in ("UsersTable", "ChatsTable", "MessagesTable", "MediaTable"):
            if key in kept:
                self.say(f"  deleting table {kept[key]}")
                try:
                    dynamodb.delete_table(TableName=kept[key])
                except dynamodb.exceptions.ResourceNotFoundException:
                    pass
        if "MediaBucket" in kept:
            self.say(f"  emptying and deleting bucket {kept['MediaBucket']}")
            bucket = self.session.resource("s3").Bucket(kept["MediaBucket"])
            try:
                bucket.object_versions.delete()
                bucket.delete()
            except bucket.meta.client.exceptions.NoSuchBucket:
                pass
        if "UserPoolId" in kept:
            self.say(f"  deleting user pool {kept['UserPoolId']}")
            cognito = self.session.client("cognito-idp")
            try:
                cognito.delete_user_pool(UserPoolId=kept["UserPoolId"])
            except cognito.exceptions.ResourceNotFoundException:
                pass
        if "CloudFrontPrivateKeyParameter" in kept:
            ssm = self.session.client("ssm")
            try:
                ssm.delete_parameter(Name=kept["CloudFrontPrivateKeyParameter"])
            except ssm.exceptions.ParameterNotFound:
                pass


def cloudfront_public_key(session, stage: str, out=sys.stderr) -> str:
    """The PEM public key for the stage's CloudFront key group. The private key lives only in SSM (a
    SecureString the media-serving functions may read); it is made here on first use."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    ssm = session.client("ssm")
    name = cloudfront_key_parameter(stage)
    try:
        pem = ssm.get_parameter(Name=name, WithDecryption=True)["Parameter"]["Value"].encode()
        private_key = serialization.load_pem_private_key(pem, password=None)
    except ssm.exceptions.ParameterNotFound:
        print(f"creating the CloudFront signing key in SSM {name}", file=out, flush=True)
        private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)  # CloudFront takes RSA 2048
        pem = private_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                        serialization.NoEncryption())
        ssm.put_parameter(Name=name, Value=pem.decode(), Type="SecureString", Tier="Standard",
                          Description=f"Parley {stage}: private key that signs CloudFront media URLs")
    return private_key.public_key().public_bytes(serialization.Encoding.PEM,
                                                 serialization.PublicFormat.SubjectPublicKeyInfo).decode()
