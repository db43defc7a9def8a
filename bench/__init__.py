"""Parley's benchmark suite on the local stack: `make bench` (or `python -m bench`).

Latency under offered load, the highest sustained rate, group fan-out, `sync`, the cold-start import
ratio, media processing, and what each operation asks of AWS (counted by devstack/accounting.py) priced at
on-demand rates, beside a naive baseline measured in the same run. Results go to bench/results/latest.md and
latest.json; docs/scaling.md builds on them.
"""
