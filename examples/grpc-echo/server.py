"""A gRPC service for Eas.Node with metadata.enable_grpc: true (docs/traffic.md#grpc).

eas.example.Echo/Say answers a unary call with "echo: <request>"; eas.example.Echo/Count streams
"<request> 1" ... "<request> N" (N from the request's trailing number, default 3), one message every
STREAM_GAP_SECONDS. Messages are raw UTF-8 bytes (no .proto needed: generic handlers with identity
serializers), so any gRPC client can call it with a bytes marshaller. Needs python3-grpcio (Debian).
"""
import os
import time
from concurrent import futures

import grpc

GAP = float(os.environ.get("STREAM_GAP_SECONDS", "0.2"))


def say(request, context):
    return b"echo: " + request


def count(request, context):
    text = request.decode("utf-8", "replace")
    head, _, tail = text.rpartition(" ")
    n = int(tail) if tail.isdigit() else 3
    word = head if tail.isdigit() else text
    for i in range(1, n + 1):
        yield f"{word} {i}".encode()
        if i < n:
            time.sleep(GAP)


def main():
    handler = grpc.method_handlers_generic_handler("eas.example.Echo", {
        "Say": grpc.unary_unary_rpc_method_handler(say),
        "Count": grpc.unary_stream_rpc_method_handler(count),
    })
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
    server.add_generic_rpc_handlers((handler,))
    server.add_insecure_port(f"0.0.0.0:{os.environ.get('PORT', '8000')}")
    server.start()
    print(f"grpc echo serving on port {os.environ.get('PORT', '8000')}", flush=True)
    server.wait_for_termination()


if __name__ == "__main__":
    main()
