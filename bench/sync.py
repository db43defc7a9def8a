"""`sync` after missing many messages across a few of a user's many chats, and with nothing missed.

The user's chats and the messages it missed are written through Parley's own storage layer (the chat store's
`create`, the message store's `reserve` and `write`, which create_chat and send call) from the bench process
straight into the stack's tables: the same items a thousand sends would leave, without a thousand WebSocket round
trips.
"""
import asyncio
import statistics
import time

from chalicelib.model import Chat, Member, Message, direct_chat_id, now_iso
from chalicelib.storage.dynamodb.chats import DynamoChatStore
from chalicelib.storage.dynamodb.messages import DynamoMessageStore

from bench.costs import Operation, measure
from bench.world import World

MESSAGE_TEXT = "Are we still on for Thursday? I can bring the projector if the room does not have one."


def seed(stores: tuple[DynamoChatStore, DynamoMessageStore], user_id: str, peers: list[str], busy: int,
         missed: int) -> list[str]:
    """A direct chat with each peer; `missed` messages from the first `busy` peers. Answers the chats' ids."""
    chat_store, messages = stores
    chats = [Chat(chat_id=direct_chat_id(user_id, peer), kind="direct", created_at=now_iso(),
                  members=[Member(user_id=user_id), Member(user_id=peer)]) for peer in peers]
    for chat in chats:
        chat_store.create(chat)
    for index in range(missed):
        chat, sender = chats[index % busy], peers[index % busy]
        seq = messages.reserve(chat.chat_id, sender, direct=True).seq
        messages.write(Message(chat_id=chat.chat_id, seq=seq, message_id=f"seed-{index}", sender_id=sender,
                               kind="text", sent_at=now_iso(), text=MESSAGE_TEXT, client_msg_id=f"seed-{index}"))
    return [chat.chat_id for chat in chats]


async def sync_scenario(world: World) -> dict:
    plan, user_id = world.plan, world.cast.syncer
    peers = world.cast.sync_peers(plan.sync_chats)
    started = time.perf_counter()
    chat_ids = await asyncio.to_thread(seed, await world.stack.chat_stores(), user_id, peers, plan.sync_busy_chats,
                                       plan.sync_missed)
    seeded_in = time.perf_counter() - started
    busy, per_chat = chat_ids[:plan.sync_busy_chats], plan.sync_missed // plan.sync_busy_chats
    behind = dict.fromkeys(chat_ids, 0)  # the client knows every chat; the busy ones moved on without it
    caught_up = behind | dict.fromkeys(busy, per_chat)
    client = await world.actor(user_id)

    async def timed(cursors: dict[str, int], expected: int) -> float:
        started = time.perf_counter()
        result = await client.sync(cursors)
        elapsed = time.perf_counter() - started
        got = sum(len(messages) for messages in result.messages.values())
        if got != expected:
            raise AssertionError(f"sync brought {got} messages, not {expected}")
        return elapsed

    async def case(label: str, cursors: dict[str, int], expected: int) -> dict:
        await timed(cursors, expected)  # warm-up
        seconds = [await timed(cursors, expected) for _ in range(plan.sync_runs)]
        cost = await measure(world, Operation(label, lambda: client.sync(cursors)), count=1)
        return {"label": label, "messages": expected, "ms": statistics.median(seconds) * 1000,
                "ms_min": min(seconds) * 1000, "ms_max": max(seconds) * 1000, "cost": cost}

    results = {"chats": plan.sync_chats, "busy_chats": plan.sync_busy_chats, "seeded_seconds": seeded_in,
               "cases": [await case(f"sync, {plan.sync_missed} missed in {plan.sync_busy_chats} of "
                                    f"{plan.sync_chats} chats", behind, per_chat * len(busy)),
                         await case(f"sync, nothing missed in {plan.sync_chats} chats", caught_up, 0)]}
    await world.dismiss(client)
    return results
