"""Parley's production deploy path, run as `python -m deploy up|down|config|webconfig` (see docs/deploy.md).

Importing this package is cheap and needs no AWS credentials: boto3 is imported where it is used.
"""
