"""A tiny bench run of one scenario against a local stack of its own: it finishes and writes its results."""
import json

from bench import report, suite
from bench.plan import SMOKE
from bench.sync import v1_frame_bytes
from chalicelib.frames import MAX_FRAME_BYTES
from devstack.aws import FAKE_CREDENTIALS


def test_a_tiny_sync_run_writes_its_results(tmp_path, monkeypatch):
    for name, value in FAKE_CREDENTIALS.items():
        monkeypatch.setenv(name, value)

    results = suite.run(SMOKE, {"sync"})

    cases = {case["label"]: case for case in results["sync"]["cases"]}
    missed, caught_up, changes_nothing, heavy_nothing, heavy_missed, fresh = results["sync"]["cases"]
    assert [case["form"] for case in cases.values()] == ["v1", "v1", "changes", "changes", "changes", "changes"]
    assert missed["messages"] == SMOKE.sync_missed and caught_up["messages"] == 0
    assert missed["cost"]["dynamodb_requests"] > caught_up["cost"]["dynamodb_requests"] > 0
    assert missed["cost"]["dollars_per_million"]["total"] > 0
    # the changes form reads only the chats with news: nothing missed lists no chat, whatever the user has
    assert changes_nothing["chats_listed"] == heavy_nothing["chats_listed"] == 0
    assert heavy_nothing["cost"]["dynamodb_requests"] < caught_up["cost"]["dynamodb_requests"]
    assert heavy_missed["messages"] == SMOKE.sync_heavy_missed
    assert heavy_missed["chats_listed"] == SMOKE.sync_heavy_busy_chats
    assert heavy_missed["message_frames"] == 1  # the busy chats' messages batched into one frame
    assert fresh["chats_listed"] == SMOKE.sync_heavy_chats and fresh["pages"] >= 2
    assert fresh["frames"] >= fresh["pages"] and fresh["bytes"] > 0
    assert {target["metric"] for target in results["sync"]["targets"]} == {"dynamodb_requests", "read_units",
                                                                            "frames"}
    data, text = report.write(results, tmp_path)
    assert json.loads(data.read_text())["sync"]["cases"][0]["messages"] == SMOKE.sync_missed
    markdown = text.read_text()
    assert "## Sync" in markdown and "Issue 18's targets" in markdown and "(not sent)" in markdown


def test_the_v1_cursor_map_of_thousands_of_chats_passes_a_client_frame():
    cursors = {f"direct:h{i:05d}:u0948": 1 for i in range(1, 5001)}
    assert v1_frame_bytes(dict(list(cursors.items())[:500])) < MAX_FRAME_BYTES < v1_frame_bytes(cursors)
