"""What 1:1 operations cost: a send to an online recipient, that recipient's read receipt, and a heartbeat."""
from bench.costs import Operation, measure, read_receipts
from bench.latency import Pairs
from bench.world import World


async def direct_costs(world: World, pairs: Pairs) -> list[dict]:
    sender, chat_id = pairs.senders[0], pairs.chat_ids[0]
    await world.crowd.online([])  # the receiver's SDK socket is then its only one
    receiver = await world.actor(world.cast.pair_receivers()[0])
    send = Operation("send 1:1, recipient online", lambda: sender.send_text(chat_id, "what a message costs"))
    receipt = await read_receipts(world, "read receipt in a 1:1 chat", receiver, sender, chat_id)
    costs = [await measure(world, send), await measure(world, receipt),
             await measure(world, Operation("heartbeat", sender.heartbeat))]
    await world.dismiss(receiver)
    return costs
