"""One structured logger and one EMF metrics namespace for every handler.

Logs carry the connection or request id as correlation id; never a token or a message's text.
"""
import warnings

from aws_lambda_powertools import Logger, Metrics

warnings.filterwarnings("ignore", "No application metrics to publish")

logger = Logger(service="parley")
metrics = Metrics(namespace="Parley", service="parley")
