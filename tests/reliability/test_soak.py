"""The short soak: bench/soak.py on its own local stack, small enough for every `make test`.

`python -m bench.soak` runs the long one (200 sockets, 20,000 messages); both audit the same way. This one has a
short DynamoDB throttling storm in the middle, as the long one can (`--storms 2`).
"""
from bench.soak import Config, run, summary


def test_a_short_soak_loses_and_duplicates_nothing():
    report = run(Config(sockets=40, messages=200, procs=1, seed=7, rate=0, ramp_seconds=2, disconnect_every=12,
                        crash_fanout_every=5, reply_timeout=30, send_timeout=20, heartbeat_timeout=10, deadline=240,
                        storms=1, storm_seconds=2, storm_every=4, redrive_after=2, quiet=True))
    print(summary(report))
    assert report["ok"], summary(report)
    assert report["messages_stored"] - report["gaps_closed"] == report["messages_sent"] == 200
    assert report["sockets"] == 40 and report["peak_open_sockets"] >= 30
    assert report["drops"] > 0 and report["clean_closes"] > 0, "the run never dropped a socket"
    assert report["deliveries_checked"] > 500
    (storm,) = report["storms"]
    assert storm["sends_held_up"] > 0, "the storm held up no send"
