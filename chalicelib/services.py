"""The composition root: builds the services on AWS clients once per Lambda container, on first use."""
from dataclasses import dataclass
from functools import cache

from chalicelib.config import settings
from chalicelib.delivery import Delivery
from chalicelib.identity import Accounts, TokenVerifier
from chalicelib.messaging import Messaging
from chalicelib.model import CONNECTION_LIFETIME
from chalicelib.presence import Presence
from chalicelib.receipts import Receipts
from chalicelib.storage import ChatStore, UserStore
from chalicelib.typing_indicators import TypingIndicators


@dataclass(frozen=True)
class Services:
    users: UserStore
    chats: ChatStore
    delivery: Delivery
    messaging: Messaging
    receipts: Receipts
    presence: Presence
    typing: TypingIndicators
    tokens: TokenVerifier
    accounts: Accounts


def build(users: UserStore, chats: ChatStore, pusher, tokens: TokenVerifier, accounts: Accounts) -> Services:
    delivery = Delivery(users, pusher)
    receipts = Receipts(chats, delivery)
    presence = Presence(users, chats, delivery)
    delivery.when_gone(presence.disconnected)  # a socket a push finds gone closed without $disconnect
    return Services(users=users, chats=chats, delivery=delivery, receipts=receipts,
                    messaging=Messaging(chats, users, delivery, receipts), presence=presence,
                    typing=TypingIndicators(chats, delivery), tokens=tokens, accounts=accounts)


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
    )
