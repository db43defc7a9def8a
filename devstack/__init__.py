"""The local stack: Parley's Chalice app on moto, behind stand-ins for API Gateway's REST and WebSocket APIs.

Never shipped to Lambda.
"""
