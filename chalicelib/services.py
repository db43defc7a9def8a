"""The composition root: builds the services on AWS clients once per Lambda container, on first use."""
from dataclasses import dataclass
from functools import cache

from chalicelib.config import settings
from chalicelib.delivery import Delivery
from chalicelib.fanout import Fanout, FanoutQueue, SqsFanoutQueue
from chalicelib.groups import Groups
from chalicelib.identity import Accounts, TokenVerifier
from chalicelib.messaging import Messaging
from chalicelib.model import CONNECTION_LIFETIME, Chat
from chalicelib.receipts import Receipts
from chalicelib.storage import ChatStore, UserStore


@dataclass(frozen=True)
class Services:
    users: UserStore
    chats: ChatStore
    delivery: Delivery
    fanout: Fanout
    messaging: Messaging
    groups: Groups
    receipts: Receipts
    tokens: TokenVerifier
    accounts: Accounts

    def create_chat(self, user_id: str, kind: str, peer_id: str | None, name: str | None,
                    members: list[str] | None) -> Chat:
        if kind == "group":
            return self.groups.create(user_id, name, members)
        return self.messaging.create_direct(user_id, peer_id)


def build(users: UserStore, chats: ChatStore, pusher, tokens: TokenVerifier | None, accounts: Accounts | None,
          fanout_queue: FanoutQueue | None = None) -> Services:
    delivery = Delivery(users, pusher)
    fanout = Fanout(delivery, fanout_queue)
    receipts = Receipts(chats, delivery)
    messaging = Messaging(chats, users, delivery, fanout, receipts)
    return Services(users=users, chats=chats, delivery=delivery, fanout=fanout, receipts=receipts,
                    messaging=messaging, groups=Groups(chats, users, delivery, fanout, messaging, receipts),
                    tokens=tokens, accounts=accounts)


@cache
def services() -> Services:
    import boto3

    from chalicelib.connections_api import ConnectionsApiPusher
    from chalicelib.storage.dynamodb import DynamoChatStore, DynamoUserStore

    config = settings()
    dynamodb = boto3.resource("dynamodb", region_name=config.region)
    return build(
        users=DynamoUserStore(dynamodb, config.connections_table, config.users_table, CONNECTION_LIFETIME),
        chats=DynamoChatStore(dynamodb, config.chats_table, config.messages_table),
        pusher=ConnectionsApiPusher(),
        tokens=TokenVerifier(config.token_issuer, config.user_pool_client_id, config.jwks_url),
        accounts=Accounts(boto3.client("cognito-idp", region_name=config.region), config.user_pool_id,
                          config.user_pool_client_id),
        fanout_queue=SqsFanoutQueue(boto3.client("sqs", region_name=config.region), config.fanout_queue_url),
    )
