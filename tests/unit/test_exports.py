"""Data exports: what the JSON Lines file holds, and who may read an export's status."""
import json

import pytest

from chalicelib.errors import NotFound


def test_an_export_holds_the_user_their_chats_and_what_they_can_read(world):
    world.users("ann", "ben", "cat")
    direct = world.services.messaging.create_direct("ann", "ben")[0].chat_id
    first, second = world.send("ann", direct, "one"), world.send("ben", direct, "two")
    world.services.messaging.hide("ann", direct, [second["seq"]])
    world.send("cat", world.services.messaging.create_direct("cat", "ben")[0].chat_id, "not ann's")
    group = world.services.groups.create("ben", "club", ["cat"])[0].chat_id
    world.send("ben", group, "before ann joined")
    world.services.groups.add_members("ben", group, ["ann"])
    after = world.send("cat", group, "after")
    world.stores.users.update_profile("ann", {"display_name": "Ann"})
    world.services.settings.update("ann", {"read_receipts": False})
    world.queue.tasks.clear()
    export_id = world.services.exports.request("ann")
    assert world.services.exports.status("ann", export_id) == {"status": "pending"}
    (task,) = world.queue.tasks
    world.services.fanout.run(task)  # as the fan-out consumer does
    status = world.services.exports.status("ann", export_id)
    assert status["status"] == "ready"
    key = status["url"].split("://")[1].split("?")[0]
    lines = [json.loads(line) for line in (world.blobs.folder / key).read_text().splitlines()]
    assert lines[0] == {"type": "profile", "user_id": "ann", "display_name": "Ann"}
    assert lines[1] == {"type": "settings", "last_seen": "everyone", "read_receipts": False,
                        "groups_add": "everyone", "push_previews": True}
    assert {line["chat_id"] for line in lines if line["type"] == "chat"} == {direct, group}
    texts = {line["chat_id"]: line.get("text") for line in lines
             if line["type"] == "message" and line.get("kind") != "system"}
    assert texts == {direct: "one", group: "after"}  # not the hidden one, nor the group's before ann joined
    assert {line["seq"] for line in lines if line["type"] == "message" and line["chat_id"] == direct} == {
        first["seq"]}
    assert after["seq"] > 1
    with pytest.raises(NotFound):
        world.services.exports.status("ben", export_id)
