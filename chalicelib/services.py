"""The composition root: builds the services on AWS clients once per Lambda container, on first use."""
from dataclasses import dataclass
from functools import cache

from chalicelib.config import Settings, settings
from chalicelib.delivery import Delivery
from chalicelib.fanout import Fanout, FanoutQueue, SqsFanoutQueue
from chalicelib.groups import Groups
from chalicelib.identity import Accounts, TokenVerifier
from chalicelib.media import MediaService
from chalicelib.messaging import Messaging
from chalicelib.model import CONNECTION_LIFETIME, Chat, MediaLimits
from chalicelib.presence import Presence
from chalicelib.receipts import Receipts
from chalicelib.rate_limits import RateLimiter, RateLimits
from chalicelib.storage import BlobStore, ChatStore, Counters, MediaStore, UserStore
from chalicelib.storage.cloudfront import CloudFrontUrls
from chalicelib.typing_indicators import TypingIndicators


@dataclass(frozen=True)
class Services:
    users: UserStore
    chats: ChatStore
    delivery: Delivery
    fanout: Fanout
    messaging: Messaging
    groups: Groups
    receipts: Receipts
    presence: Presence
    typing: TypingIndicators
    tokens: TokenVerifier
    accounts: Accounts
    media: MediaService

    def create_chat(self, user_id: str, kind: str, peer_id: str | None, name: str | None,
                    members: list[str] | None) -> tuple[Chat, bool]:
        if kind == "group":
            return self.groups.create(user_id, name, members)
        return self.messaging.create_direct(user_id, peer_id)


def build(users: UserStore, chats: ChatStore, counters: Counters, pusher, tokens: TokenVerifier | None,
          accounts: Accounts | None, media: MediaStore, blobs: BlobStore, fanout_queue: FanoutQueue | None = None,
          media_limits: MediaLimits = MediaLimits(), rate_limits: RateLimits = RateLimits()) -> Services:
    delivery = Delivery(users, pusher)
    fanout = Fanout(delivery, fanout_queue)
    receipts = Receipts(chats, delivery)
    rate = RateLimiter(counters, rate_limits)
    media_service = MediaService(media, blobs, chats, fanout, rate, media_limits)
    messaging = Messaging(chats, users, delivery, fanout, receipts, media_service, rate)
    presence = Presence(users, chats, delivery)
    delivery.when_gone(presence.disconnected)  # a socket a push finds gone closed without $disconnect
    return Services(users=users, chats=chats, delivery=delivery, fanout=fanout, receipts=receipts,
                    messaging=messaging, groups=Groups(chats, users, delivery, fanout, messaging, receipts),
                    presence=presence, typing=TypingIndicators(chats, delivery, rate), tokens=tokens, accounts=accounts,
                    media=media_service)


@cache
def services() -> Services:
    import boto3

    from botocore.config import Config

    from chalicelib.connections_api import ConnectionsApiPusher
    from chalicelib.storage.dynamodb import DynamoChatStore, DynamoCounters, DynamoUserStore
    from chalicelib.storage.media import DynamoMediaStore, S3Blobs

    config = settings()
    dynamodb = boto3.resource("dynamodb", region_name=config.region)
    return build(
        users=DynamoUserStore(dynamodb, config.connections_table, config.users_table, CONNECTION_LIFETIME),
        chats=DynamoChatStore(dynamodb, config.chats_table, config.messages_table),
        counters=DynamoCounters(dynamodb, config.chats_table),
        pusher=ConnectionsApiPusher(),
        tokens=TokenVerifier(config.token_issuer, config.user_pool_client_id, config.jwks_url),
        accounts=Accounts(boto3.client("cognito-idp", region_name=config.region), config.user_pool_id,
                          config.user_pool_client_id),
        media=DynamoMediaStore(dynamodb, config.media_table),
        blobs=S3Blobs(boto3.client("s3", region_name=config.region, config=Config(signature_version="s3v4")),
                      config.media_bucket, cloudfront_urls(config)),
        fanout_queue=SqsFanoutQueue(boto3.client("sqs", region_name=config.region), config.fanout_queue_url),
        media_limits=config.media_limits,
        rate_limits=config.rate_limits,
    )


def cloudfront_urls(config: Settings) -> CloudFrontUrls | None:
    if not config.cloudfront_domain:
        return None
    import boto3

    def private_key() -> bytes:
        ssm = boto3.client("ssm", region_name=config.region)
        return ssm.get_parameter(Name=config.cloudfront_private_key_parameter,
                                 WithDecryption=True)["Parameter"]["Value"].encode()
    return CloudFrontUrls(config.cloudfront_domain, config.cloudfront_key_pair_id, private_key)
