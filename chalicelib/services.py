"""The composition root: builds the services on AWS clients once per Lambda container, on first use."""
from dataclasses import dataclass
from functools import cache

from chalicelib.access import Access
from chalicelib.account_deletion import AccountDeletion
from chalicelib.catch_up import CatchUp
from chalicelib.config import Settings, settings
from chalicelib.delivery import Delivery
from chalicelib.disappearing import Disappearing
from chalicelib.exports import Exports
from chalicelib.fanout import Fanout, FanoutQueue, SqsFanoutQueue
from chalicelib.groups import Groups
from chalicelib.identity import Accounts, TokenVerifier, normalize_username
from chalicelib.media import MediaService
from chalicelib.messaging import Messaging
from chalicelib.model import CONNECTION_LIFETIME, Chat, MediaLimits
from chalicelib.news import News
from chalicelib.notifications import Notifications
from chalicelib.people import People
from chalicelib.presence import Presence
from chalicelib.rate_limits import RateLimiter, RateLimits
from chalicelib.receipts import Receipts
from chalicelib.relations import Relations
from chalicelib.reports import Reports
from chalicelib.sessions import Sessions
from chalicelib.storage import Stores
from chalicelib.storage.cloudfront import CloudFrontUrls
from chalicelib.typing_indicators import TypingIndicators
from chalicelib.user_settings import UserSettings


@dataclass(frozen=True)
class Services:
    stores: Stores
    delivery: Delivery
    fanout: Fanout
    messaging: Messaging
    catch_up: CatchUp
    groups: Groups
    receipts: Receipts
    presence: Presence
    typing: TypingIndicators
    tokens: TokenVerifier
    accounts: Accounts
    media: MediaService
    sessions: Sessions
    disappearing: Disappearing
    exports: Exports
    account_deletion: AccountDeletion
    notifications: Notifications
    settings: UserSettings
    people: People
    reports: Reports

    def signup(self, username: object, password: object) -> str:
        self.account_deletion.refuse_taken(normalize_username(username))
        user_id = self.accounts.signup(username, password)
        self.stores.users.register(user_id)
        return user_id

    def create_chat(self, user_id: str, kind: str, peer_id: str | None, name: str | None,
                    members: list[str] | None) -> tuple[Chat, bool]:
        if kind == "group":
            return self.groups.create(user_id, name, members)
        return self.messaging.create_direct(user_id, peer_id)


def build(stores: Stores, pusher, tokens: TokenVerifier, accounts: Accounts, notifier,
          fanout_queue: FanoutQueue | None = None, media_limits: MediaLimits = MediaLimits(),
          rate_limits: RateLimits = RateLimits()) -> Services:
    delivery = Delivery(stores.users, pusher)
    news = News(stores.news)
    fanout = Fanout(delivery, news, fanout_queue)
    access = Access(stores.chats)
    rate = RateLimiter(stores.counters, rate_limits)
    settings = UserSettings(stores.users)
    receipts = Receipts(stores.receipts, stores.chats, stores.messages, access, delivery, rate, settings)
    media = MediaService(stores.media, stores.blobs, stores.chats, access, fanout, rate, media_limits)
    messaging = Messaging(stores.chats, stores.messages, stores.users, news, access, delivery, fanout, receipts, media,
                          rate)
    presence = Presence(stores.users, stores.chats, access, delivery, rate, fanout)  # its tasks go by fanout
    delivery.when_gone(presence.disconnected)  # a socket a push finds gone closed without $disconnect
    groups = Groups(stores.chats, stores.users, access, delivery, fanout, messaging, receipts)
    sessions = Sessions(stores.users, accounts, delivery)
    notifications = Notifications(stores.users, stores.chats, stores.messages, stores.receipts, news, access, delivery,
                                  fanout, notifier)
    return Services(stores=stores, delivery=delivery, fanout=fanout, receipts=receipts, messaging=messaging,
                    catch_up=CatchUp(stores.chats, stores.messages, news, receipts, media, rate), groups=groups,
                    presence=presence, typing=TypingIndicators(access, delivery, rate), tokens=tokens,
                    accounts=accounts, media=media, sessions=sessions,
                    disappearing=Disappearing(stores.messages, Relations(stores.messages, media)),
                    exports=Exports(stores.exports, stores.users, stores.chats, stores.messages, stores.blobs, fanout),
                    account_deletion=AccountDeletion(stores.users, stores.chats, groups, media, accounts, sessions,
                                                     notifications, fanout),
                    notifications=notifications, settings=settings,
                    people=People(stores.users, stores.chats, media, presence.announce_profile),
                    reports=Reports(stores.reports, stores.chats, stores.messages, access, rate))


def dynamodb_stores(dynamodb, config: Settings, blobs) -> Stores:
    """The stores on the deployment's tables (the local stack and the moto tests build them the same way)."""
    from chalicelib.storage.dynamodb.chats import DynamoChatStore
    from chalicelib.storage.dynamodb.counters import DynamoCounters
    from chalicelib.storage.dynamodb.exports import DynamoExportStore
    from chalicelib.storage.dynamodb.media import DynamoMediaStore
    from chalicelib.storage.dynamodb.messages import DynamoMessageStore
    from chalicelib.storage.dynamodb.news import DynamoNewsStore
    from chalicelib.storage.dynamodb.receipts import DynamoReceiptStore
    from chalicelib.storage.dynamodb.reports import DynamoReportStore
    from chalicelib.storage.dynamodb.users import DynamoUserStore
    return Stores(users=DynamoUserStore(dynamodb, config.connections_table, config.users_table, CONNECTION_LIFETIME),
                  chats=DynamoChatStore(dynamodb, config.chats_table),
                  messages=DynamoMessageStore(dynamodb, config.chats_table, config.messages_table),
                  news=DynamoNewsStore(dynamodb, config.chats_table),
                  exports=DynamoExportStore(dynamodb, config.chats_table),
                  reports=DynamoReportStore(dynamodb, config.chats_table),
                  receipts=DynamoReceiptStore(dynamodb, config.chats_table),
                  counters=DynamoCounters(dynamodb, config.chats_table),
                  media=DynamoMediaStore(dynamodb, config.media_table), blobs=blobs)


@cache
def services() -> Services:
    import boto3
    from botocore.config import Config

    from chalicelib.connections_api import ConnectionsApiPusher
    from chalicelib.sns_notifier import SnsNotifier
    from chalicelib.storage.s3 import S3Blobs

    config = settings()
    blobs = S3Blobs(boto3.client("s3", region_name=config.region, config=Config(signature_version="s3v4")),
                    config.media_bucket, cloudfront_urls(config))
    return build(
        dynamodb_stores(boto3.resource("dynamodb", region_name=config.region), config, blobs),
        pusher=ConnectionsApiPusher(),
        tokens=TokenVerifier(config.token_issuer, config.user_pool_client_id, config.jwks_url),
        accounts=Accounts(boto3.client("cognito-idp", region_name=config.region), config.user_pool_id,
                          config.user_pool_client_id),
        notifier=SnsNotifier(boto3.client("sns", region_name=config.region),
                             {"apns": config.apns_application_arn, "fcm": config.fcm_application_arn}),
        fanout_queue=SqsFanoutQueue(boto3.client("sqs", region_name=config.region), config.fanout_queue_url),
        media_limits=config.media_limits,
        rate_limits=config.rate_limits,
    )


def cloudfront_urls(config: Settings) -> CloudFrontUrls | None:
    if not (config.cloudfront_domain and config.cloudfront_key_pair_id):
        return None
    import boto3

    def private_key() -> bytes:
        ssm = boto3.client("ssm", region_name=config.region)
        return ssm.get_parameter(Name=config.cloudfront_private_key_parameter,
                                 WithDecryption=True)["Parameter"]["Value"].encode()
    return CloudFrontUrls(config.cloudfront_domain, config.cloudfront_key_pair_id, private_key)
