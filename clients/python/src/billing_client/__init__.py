"""A Python client for billingd, written from docs/PROTOCOL.md and proto/.

    from billing_client import Client, RpcError, billing_pb2

`Client` (threads) and `AsyncClient` (asyncio) expose `.billing` (billing.v1.BillingService) and
`.health` (grpc.health.v1.Health), one typed method per rpc. Failed calls raise `RpcError`.
"""

from billing_client._errors import RpcError, StatusCode
from billing_client._generated.billing.rpc.v1 import envelope_pb2
from billing_client._generated.billing.v1 import billing_pb2
from billing_client._generated.grpc.health.v1 import health_pb2
from billing_client._streams import AsyncServerStream, ServerStream, UnaryCall
from billing_client.aio import AsyncChannel, AsyncClient
from billing_client.sync import Channel, Client

__all__ = [
    "AsyncChannel",
    "AsyncClient",
    "AsyncServerStream",
    "Channel",
    "Client",
    "RpcError",
    "ServerStream",
    "StatusCode",
    "UnaryCall",
    "billing_pb2",
    "envelope_pb2",
    "health_pb2",
]
