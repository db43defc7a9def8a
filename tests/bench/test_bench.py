"""A tiny bench run of one scenario against a local stack of its own: it finishes and writes its results."""
import json

from bench import report, suite
from bench.plan import SMOKE
from devstack.aws import FAKE_CREDENTIALS


def test_a_tiny_sync_run_writes_its_results(tmp_path, monkeypatch):
    for name, value in FAKE_CREDENTIALS.items():
        monkeypatch.setenv(name, value)

    results = suite.run(SMOKE, {"sync"})

    missed, caught_up = results["sync"]["cases"]
    assert missed["messages"] == SMOKE.sync_missed and caught_up["messages"] == 0
    assert missed["cost"]["dynamodb_requests"] > caught_up["cost"]["dynamodb_requests"] > 0
    assert missed["cost"]["dollars_per_million"]["total"] > 0
    data, text = report.write(results, tmp_path)
    assert json.loads(data.read_text())["sync"]["cases"][0]["messages"] == SMOKE.sync_missed
    assert "## Sync" in text.read_text()
