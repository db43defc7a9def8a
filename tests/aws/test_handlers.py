"""The Lambda handlers as API Gateway invokes them, on moto, with pushes recorded."""
import json

import boto3
import pytest
from chalice.test import Client

from chalicelib import clock
from chalicelib.config import settings
from chalicelib.identity import Accounts, TokenVerifier
from chalicelib.services import build, dynamodb_stores
from chalicelib.sns_notifier import SnsNotifier
from chalicelib.storage.s3 import S3Blobs
from tests import tokens
from tests.fakes import RecordingPusher


@pytest.fixture
def app(aws, monkeypatch):
    import app as parley
    pusher = RecordingPusher()
    dynamodb = boto3.resource("dynamodb")
    services = build(dynamodb_stores(dynamodb, settings(), S3Blobs(boto3.client("s3"), aws["MEDIA_BUCKET"])), pusher,
                     TokenVerifier(f"https://cognito-idp.us-east-1.amazonaws.com/{aws['USER_POOL_ID']}",
                                   aws["USER_POOL_CLIENT_ID"], aws["JWKS_URL"]),
                     Accounts(boto3.client("cognito-idp"), aws["USER_POOL_ID"], aws["USER_POOL_CLIENT_ID"]),
                     SnsNotifier(boto3.client("sns"), {"apns": aws["APNS_APPLICATION_ARN"],
                                                       "fcm": aws["FCM_APPLICATION_ARN"]}))
    monkeypatch.setattr(parley, "services", lambda: services)
    parley.socket_api.cache_clear()
    parley.pusher = pusher
    yield parley
    parley.socket_api.cache_clear()


def ws_event(route: str, connection_id: str, body=None, query=None) -> dict:
    return {"requestContext": {"routeKey": route, "connectionId": connection_id, "apiId": "abc123",
                               "stage": "api", "domainName": "abc123.execute-api.us-east-1.amazonaws.com",
                               "eventType": "MESSAGE"},
            "queryStringParameters": query, "body": body, "isBase64Encoded": False}


def signed_up(client, name: str) -> str:
    credentials = {"username": name, "password": "Passw0rd!"}
    assert client.http.post("/auth/signup", body=json.dumps(credentials),
                            headers={"Content-Type": "application/json"}).status_code == 201
    login = client.http.post("/auth/login", body=json.dumps(credentials), headers={"Content-Type": "application/json"})
    return json.loads(login.body)["id_token"]


def test_connect_send_and_disconnect(app):
    with Client(app.app) as client:
        alice, bob = signed_up(client, "alice"), signed_up(client, "bob")
        for connection_id, token in (("ca", alice), ("cb", bob)):
            answer = client.lambda_.invoke("connect", ws_event("$connect", connection_id, query={"token": token}))
            assert answer.payload["statusCode"] == 200
        client.lambda_.invoke("message", ws_event("$default", "ca", json.dumps(
            {"action": "create_chat", "req": "1", "kind": "direct", "user_id": "bob"})))
        client.lambda_.invoke("message", ws_event("$default", "ca", json.dumps(
            {"action": "send", "req": "2", "chat_id": "direct:alice:bob", "client_msg_id": "m", "kind": "text",
             "text": "hi"})))
        assert app.pusher.of_type("ca", "sent")[0]["req"] == "2"
        assert app.pusher.of_type("cb", "message")[0]["message"]["text"] == "hi"
        client.lambda_.invoke("disconnect", ws_event("$disconnect", "cb"))
        assert app.services().stores.users.reach_of(["bob"])["bob"].connections == []


def test_forged_tokens_are_refused_at_connect(app):
    with Client(app.app) as client:
        claims = tokens.claims_of(signed_up(client, "alice"))
        for token in (None, "junk", tokens.self_signed(claims), tokens.alg_none(claims), tokens.expired(claims)):
            answer = client.lambda_.invoke("connect", ws_event("$connect", "c1", query={"token": token}))
            assert answer.payload["statusCode"] == 401
        assert app.services().stores.users.connection("c1") is None


def test_rest_errors_follow_the_contract(app):
    with Client(app.app) as client:
        token = signed_up(client, "alice")
        missing = client.http.get("/chats/nope", headers={"Authorization": f"Bearer {token}"})
        assert missing.status_code == 404 and json.loads(missing.body)["code"] == "not_found"
        assert client.http.get("/me").status_code == 401
        me = json.loads(client.http.get("/me", headers={"Authorization": token}).body)
        assert me["user_id"] == "alice" and me["profile"] == {"user_id": "alice"} and me["settings"]["push_previews"]


def send_frame(client, connection_id: str, **body) -> None:
    client.lambda_.invoke("message", ws_event("$default", connection_id, json.dumps(body)))


def test_presence_typing_and_the_sweep_through_the_handlers(app, monkeypatch):
    moment = [1_700_000_000.0]
    monkeypatch.setattr(clock, "now", lambda: moment[0])
    with Client(app.app) as client:
        id_tokens = {name: signed_up(client, name) for name in ("alice", "bob", "eve")}
        for connection_id, name in (("cb", "bob"), ("ca", "alice"), ("ce", "eve")):
            client.lambda_.invoke("connect", ws_event("$connect", connection_id, query={"token": id_tokens[name]}))
        send_frame(client, "ca", action="create_chat", req="1", kind="direct", user_id="bob")
        assert app.pusher.of_type("cb", "presence") == []  # alice came online before they shared a chat

        send_frame(client, "ca", action="typing", req="2", chat_id="direct:alice:bob", state="start")
        assert app.pusher.of_type("cb", "typing") == [
            {"type": "typing", "chat_id": "direct:alice:bob", "user_id": "alice", "state": "start"}]
        assert app.pusher.of_type("ca", "typing") == [] and app.pusher.of_type("ca", "error") == []

        rest = client.http.post("/presence", body=json.dumps({"user_ids": ["alice", "eve"]}),
                                headers={"Authorization": id_tokens["bob"], "Content-Type": "application/json"})
        assert rest.status_code == 200 and json.loads(rest.body) == {"users": [
            {"user_id": "alice", "status": "online", "last_seen": "2023-11-14T22:13:20Z"},
            {"user_id": "eve", "status": "offline", "last_seen": None}]}
        too_many = client.http.post("/presence", body=json.dumps({"user_ids": ["x"] * 101}),
                                    headers={"Authorization": id_tokens["bob"], "Content-Type": "application/json"})
        assert too_many.status_code == 400 and json.loads(too_many.body)["code"] == "bad_request"

        moment[0] += 61  # alice's phone dies without $disconnect; bob's heartbeats on
        send_frame(client, "cb", action="heartbeat", req="3")
        client.lambda_.invoke("sweep_presence", client.events.generate_cw_event(
            source="aws.events", detail_type="Scheduled Event", detail={}, resources=[]))
        assert app.pusher.of_type("cb", "presence") == [{"type": "presence", "users": [
            {"user_id": "alice", "status": "offline", "last_seen": "2023-11-14T22:13:20Z"}]}]
        assert app.pusher.of_type("ce", "presence") == []


def test_logout_all_closes_sockets_and_refuses_the_tokens_it_revoked(app):
    with Client(app.app) as client:
        credentials = json.dumps({"username": "alice", "password": "Passw0rd!"})
        old = signed_up(client, "alice")
        refresh = json.loads(client.http.post("/auth/login", body=credentials,
                                              headers={"Content-Type": "application/json"}).body)["refresh_token"]
        for connection_id in ("phone", "laptop"):
            answer = client.lambda_.invoke("connect", ws_event("$connect", connection_id, query={"token": old}))
            assert answer.payload["statusCode"] == 200
        bearer = {"Authorization": f"Bearer {old}"}
        assert client.http.get("/me", headers=bearer).status_code == 200
        answer = client.http.post("/auth/logout_all", headers=bearer)
        assert (answer.status_code, json.loads(answer.body)) == (200, {})
        assert app.pusher.gone == {"phone", "laptop"}  # closed from the server's side
        assert client.http.get("/me", headers=bearer).status_code == 401
        assert client.lambda_.invoke("connect", ws_event("$connect", "again", query={"token": old})
                                     ).payload["statusCode"] == 401
        assert app.services().stores.users.connection("again") is None
        refreshed = client.http.post("/auth/refresh", body=json.dumps({"refresh_token": refresh}),
                                     headers={"Content-Type": "application/json"})
        assert refreshed.status_code == 401
        new = json.loads(client.http.post("/auth/login", body=credentials,
                                          headers={"Content-Type": "application/json"}).body)["id_token"]
        assert client.http.get("/me", headers={"Authorization": f"Bearer {new}"}).status_code == 200
        assert client.lambda_.invoke("connect", ws_event("$connect", "new", query={"token": new})
                                     ).payload["statusCode"] == 200


def test_deleting_an_account_signs_out_leaves_groups_and_keeps_the_name_taken(app):
    with Client(app.app) as client:
        json_body = {"Content-Type": "application/json"}
        alice, bob = signed_up(client, "alice"), signed_up(client, "bob")
        signed_up(client, "carol")
        chat = json.loads(client.http.post("/chats", headers={"Authorization": bob, **json_body}, body=json.dumps(
            {"kind": "group", "name": "club", "members": ["alice", "carol"]})).body)["chat"]["chat_id"]
        client.http.post("/chats", headers={"Authorization": alice, **json_body},
                         body=json.dumps({"kind": "direct", "user_id": "bob"}))
        client.http.put("/devices/phone", headers={"Authorization": alice, **json_body},
                        body=json.dumps({"platform": "fcm", "token": "alice-phone"}))
        client.http.put("/me/settings", headers={"Authorization": alice, **json_body},
                        body=json.dumps({"push_previews": False}))
        wrong = client.http.delete("/me", headers={"Authorization": alice, **json_body},
                                   body=json.dumps({"password": "Wr0ng!pass"}))
        assert wrong.status_code == 403
        gone = client.http.delete("/me", headers={"Authorization": alice, **json_body},
                                  body=json.dumps({"password": "Passw0rd!"}))
        assert (gone.status_code, json.loads(gone.body)) == (200, {})
        assert client.http.get("/me", headers={"Authorization": alice}).status_code == 401
        login = client.http.post("/auth/login", headers=json_body,
                                 body=json.dumps({"username": "alice", "password": "Passw0rd!"}))
        assert login.status_code == 401
        members = json.loads(client.http.get(f"/chats/{chat}", headers={"Authorization": bob}).body)["chat"]["members"]
        assert [m["user_id"] for m in members] == ["bob", "carol"]  # no queue here: the job ran at once
        again = client.http.post("/auth/signup", headers=json_body,
                                 body=json.dumps({"username": "Alice", "password": "Passw0rd!"}))
        assert again.status_code == 409
        assert len(json.loads(client.http.get("/chats", headers={"Authorization": bob}).body)["chats"]) == 2
        users = app.services().stores.users
        assert users.devices("alice") == [] and users.settings("alice") == {}
        assert boto3.client("sns").list_endpoints_by_platform_application(
            PlatformApplicationArn=settings().fcm_application_arn)["Endpoints"] == []


def test_an_account_deletion_cut_short_finishes_when_run_again(app, aws, monkeypatch):
    with Client(app.app) as client:
        signed_up(client, "alice"), signed_up(client, "bob")
        services = app.services()
        groups = [services.groups.create("bob", f"g{i}", ["alice"])[0].chat_id for i in range(3)]
        leave, calls = services.groups.leave, []

        def crashing_leave(user_id, chat_id):
            calls.append(chat_id)
            if len(calls) == 2:
                raise RuntimeError("the Lambda ran out of time")
            leave(user_id, chat_id)
        monkeypatch.setattr(services.groups, "leave", crashing_leave)
        with pytest.raises(RuntimeError):
            services.account_deletion.finish("alice")  # as SQS would see the task fail
        assert sum("alice" in [m.user_id for m in services.stores.chats.get(g).members] for g in groups) == 2
        services.account_deletion.finish("alice")  # redelivered
        assert all([m.user_id for m in services.stores.chats.get(g).members] == ["bob"] for g in groups)
        cognito = boto3.client("cognito-idp")
        with pytest.raises(cognito.exceptions.UserNotFoundException):
            cognito.admin_get_user(UserPoolId=aws["USER_POOL_ID"], Username="alice")


def test_pushes_through_sns_with_mutes_settings_and_a_disabled_endpoint(app, aws):
    sns = boto3.client("sns")

    def published(endpoint: str) -> list[dict]:
        from moto.core import DEFAULT_ACCOUNT_ID
        from moto.sns.models import sns_backends
        messages = sns_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].platform_endpoints[endpoint].messages.values()
        return [json.loads(json.loads(json.loads(m)["GCM"])["fcmV1Message"]["message"]["data"]["parley"])
                for m in messages]

    with Client(app.app) as client:
        alice, bob = signed_up(client, "alice"), signed_up(client, "bob")
        headers = {"Authorization": bob, "Content-Type": "application/json"}
        answer = client.http.put("/devices/phone", body=json.dumps({"platform": "fcm", "token": "fcm-bob"}),
                                 headers=headers)
        assert answer.status_code == 200 and json.loads(answer.body) == {"device": "phone", "platform": "fcm"}
        bad = client.http.put("/devices/phone", body=json.dumps({"platform": "sms", "token": "x"}), headers=headers)
        assert bad.status_code == 400 and json.loads(bad.body)["code"] == "bad_request"
        (endpoint,) = [e["EndpointArn"] for e in sns.list_endpoints_by_platform_application(
            PlatformApplicationArn=aws["FCM_APPLICATION_ARN"])["Endpoints"]]

        client.lambda_.invoke("connect", ws_event("$connect", "ca", query={"token": alice}))
        send_frame(client, "ca", action="create_chat", req="1", kind="direct", user_id="bob")
        send_frame(client, "ca", action="send", req="2", chat_id="direct:alice:bob", client_msg_id="m1", kind="text",
                   text="hello bob")
        assert published(endpoint) == [{"chat_id": "direct:alice:bob", "seq": 1, "sender_id": "alice",
                                        "kind": "text", "preview": "hello bob", "unread_chats": 1}]

        client.lambda_.invoke("connect", ws_event("$connect", "cb", query={"token": bob}))
        send_frame(client, "cb", action="mute", req="3", chat_id="direct:alice:bob", until="2099-01-01T00:00:00Z")
        assert app.pusher.of_type("cb", "ok") == [{"type": "ok", "req": "3"}]
        chats = json.loads(client.http.get("/chats", headers=headers).body)["chats"]
        assert chats[0]["muted_until"] == "2099-01-01T00:00:00Z"
        client.lambda_.invoke("disconnect", ws_event("$disconnect", "cb"))
        send_frame(client, "ca", action="send", req="4", chat_id="direct:alice:bob", client_msg_id="m2", kind="text",
                   text="muted")
        assert len(published(endpoint)) == 1
        send_frame(client, "ca", action="mute", req="5", chat_id="direct:alice:bob", until="yesterday")
        assert app.pusher.of_type("ca", "error")[-1]["code"] == "bad_request"

        client.lambda_.invoke("connect", ws_event("$connect", "cb2", query={"token": bob}))
        send_frame(client, "cb2", action="mute", req="6", chat_id="direct:alice:bob", until=None)
        client.lambda_.invoke("disconnect", ws_event("$disconnect", "cb2"))
        settings = client.http.put("/me/settings", body=json.dumps({"push_previews": False}), headers=headers)
        assert json.loads(settings.body)["settings"]["push_previews"] is False
        send_frame(client, "ca", action="send", req="7", chat_id="direct:alice:bob", client_msg_id="m3", kind="text",
                   text="no preview")
        assert published(endpoint)[-1] == {"chat_id": "direct:alice:bob", "seq": 3, "sender_id": "alice",
                                           "kind": "text", "unread_chats": 1}

        sns.set_endpoint_attributes(EndpointArn=endpoint, Attributes={"Enabled": "false"})  # the token died
        send_frame(client, "ca", action="send", req="8", chat_id="direct:alice:bob", client_msg_id="m4", kind="text",
                   text="to a dead token")
        assert app.services().stores.users.devices("bob") == []
        assert sns.list_endpoints_by_platform_application(
            PlatformApplicationArn=aws["FCM_APPLICATION_ARN"])["Endpoints"] == []

        client.http.put("/devices/tablet", body=json.dumps({"platform": "apns", "token": "apns-bob"}), headers=headers)
        assert client.http.delete("/devices/tablet", headers=headers).status_code == 200
        assert app.services().stores.users.devices("bob") == []
        assert sns.list_endpoints_by_platform_application(
            PlatformApplicationArn=aws["APNS_APPLICATION_ARN"])["Endpoints"] == []


def test_people_routes_profiles_users_blocks_and_reports(app):
    with Client(app.app) as client:
        alice, bob = signed_up(client, "alice"), signed_up(client, "bob")

        def call(method: str, path: str, token: str, body=None):
            answer = getattr(client.http, method)(path, headers={"Authorization": token,
                                                                 "Content-Type": "application/json"},
                                                  **({"body": json.dumps(body)} if body is not None else {}))
            return answer.status_code, json.loads(answer.body)

        assert call("put", "/me/profile", alice, {"display_name": "Alice", "about": "climbs"}) == (
            200, {"profile": {"user_id": "alice", "display_name": "Alice", "about": "climbs"}})
        assert call("put", "/me/profile", alice, {"display_name": ""})[0] == 400
        assert call("get", "/me", alice)[1]["profile"]["display_name"] == "Alice"
        assert call("get", "/users?ids=alice,bob,nobody", bob) == (200, {"users": [
            {"user_id": "alice", "display_name": "Alice", "about": "climbs"}, {"user_id": "bob"}]})
        assert call("get", "/users", bob)[0] == 400
        assert call("post", "/blocks", alice, {"user_id": "bob"}) == (201, {})
        assert call("get", "/blocks", alice) == (200, {"user_ids": ["bob"]})
        assert call("get", "/users?ids=alice", bob)[1] == {"users": [{"user_id": "alice", "display_name": "Alice"}]}
        chat = call("post", "/chats", alice, {"kind": "direct", "user_id": "bob"})[1]["chat"]["chat_id"]
        client.lambda_.invoke("connect", ws_event("$connect", "cb", query={"token": bob}))
        send_frame(client, "cb", action="send", req="1", chat_id=chat, client_msg_id="m", kind="text", text="hey")
        assert app.pusher.of_type("cb", "error")[-1]["code"] == "forbidden"
        assert call("delete", "/blocks/bob", alice) == (200, {})
        send_frame(client, "cb", action="send", req="2", chat_id=chat, client_msg_id="m", kind="text", text="hey")
        assert app.pusher.of_type("cb", "sent")[-1]["seq"] == 1
        status, body = call("post", "/reports", alice, {"chat_id": chat, "seq": 1, "reason": "rude"})
        assert status == 201 and len(body["report_id"]) == 32
        assert call("post", "/reports", alice, {"chat_id": chat, "seq": 9, "reason": "rude"})[0] == 400
        (report,) = app.services().stores.reports.newest(5)
        assert report["messages"][0]["text"] == "hey" and report["reporter_id"] == "alice"
        assert call("put", "/me/settings", alice, {"last_seen": "nobody", "groups_add": "contacts"})[1][
            "settings"]["last_seen"] == "nobody"
