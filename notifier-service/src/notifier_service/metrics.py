"""Prometheus metrics of one notifier, on its own registry (never the global one)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

# Delivery is worker → SQS → notifier → socket: tens of milliseconds when healthy,
# seconds when the long poll or a backlog is involved.
LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.open_connections = Gauge(
            "notifier_open_connections",
            "WebSocket connections open on this replica.",
            registry=self.registry,
        )
        self.registrations = Gauge(
            "notifier_registrations",
            "(connection, image) registrations held on this replica.",
            registry=self.registry,
        )
        self.registrations_made = Counter(
            "notifier_registrations_made",
            "registerImage requests accepted.",
            registry=self.registry,
        )
        self.events_received = Counter(
            "notifier_queue_events",
            "Events taken off this replica's queue, by type (`malformed` for unreadable ones).",
            ["type"],
            registry=self.registry,
        )
        self.events_delivered = Counter(
            "notifier_events_delivered",
            "Event frames handed to client sockets, by type.",
            ["type"],
            registry=self.registry,
        )
        self.delivery_latency = Histogram(
            "notifier_delivery_latency_seconds",
            "From the event's emittedAt to its frames being written to the sockets.",
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.error_frames = Counter(
            "notifier_error_frames",
            "Error frames sent to clients, by code.",
            ["code"],
            registry=self.registry,
        )
        self.slow_clients = Counter(
            "notifier_slow_clients_disconnected",
            "Connections dropped because a send did not finish within the send timeout.",
            registry=self.registry,
        )
        self.rejected_handshakes = Counter(
            "notifier_rejected_handshakes",
            "Handshakes refused before the WebSocket opened, by reason.",
            ["reason"],
            registry=self.registry,
        )
        self.authenticated_connections = Gauge(
            "notifier_authenticated_connections",
            "Open connections that hold a valid token.",
            registry=self.registry,
        )
        self.authentications = Counter(
            "notifier_authentications",
            "Tokens accepted, by how they came (`frame`: an authenticate frame, "
            "`header`: the handshake's Authorization header).",
            ["via"],
            registry=self.registry,
        )
        self.authentication_refusals = Counter(
            "notifier_authentication_refusals",
            "Tokens refused, by how they came and why (`invalid`, `expired`, `keys_unavailable`).",
            ["via", "reason"],
            registry=self.registry,
        )
        self.tokens_expired = Counter(
            "notifier_tokens_expired",
            "Connections closed because their token expired without a fresh authenticate.",
            registry=self.registry,
        )
        self.registrations_refused = Counter(
            "notifier_registrations_refused",
            "registerImage requests answered unknown_image, by reason (`missing`: no such "
            "image, `not_allowed`: another user's private image); clients see no difference.",
            ["reason"],
            registry=self.registry,
        )
        self.queues_swept = Counter(
            "notifier_queues_swept",
            "Queues of dead replicas deleted by this replica's sweeper.",
            registry=self.registry,
        )
        self.heap_freezes = Counter(
            "notifier_heap_freezes",
            "Heap freezes after new connections (kind=connections), and the periodic "
            "unfreeze with one full collection (kind=full).",
            ["kind"],
            registry=self.registry,
        )
        self.aws_requests = Counter(
            "notifier_aws_requests",
            "Requests sent to AWS (each retry counted), by service and operation.",
            ["service", "operation"],
            registry=self.registry,
        )

    def count_aws_request(self, service: str, operation: str) -> None:
        self.aws_requests.labels(service, operation).inc()

    def render(self) -> bytes:
        return generate_latest(self.registry)
