"""Events go only to the queues of replicas that hold a client for the image."""

import json
import uuid
from typing import Any

from snapqueue_core.publisher import NotificationPublisher
from snapqueue_core.schemas import ImageStatus, NotificationEvent
from snapqueue_core.store import ConnectionRow, ConnectionStore


async def test_routes_to_the_replicas_holding_the_image(resources_factory: Any) -> None:
    settings, clients = await resources_factory()
    connections = ConnectionStore(clients.dynamodb, settings)
    queues = {}
    for replica in ("a", "b", "c"):
        name = f"{settings.notify_queue_prefix}{replica}"
        queues[replica] = (await clients.sqs.create_queue(QueueName=name))["QueueUrl"]
    image_id = uuid.uuid4().hex
    await connections.put(ConnectionRow(image_id, "c1", "a", queues["a"]), ttl_seconds=60)
    await connections.put(ConnectionRow(image_id, "c2", "a", queues["a"]), ttl_seconds=60)
    await connections.put(ConnectionRow(image_id, "c3", "b", queues["b"]), ttl_seconds=60)
    # A replica that died: its queue is gone; its row is deleted at the first failed send.
    gone = queues["b"].rsplit("/", 1)[0] + "/no-such-queue"
    await connections.put(ConnectionRow(image_id, "c4", "dead", gone), ttl_seconds=60)

    publisher = NotificationPublisher(clients.sqs, connections)
    delivered = await publisher.publish(
        NotificationEvent.progress(image_id, ImageStatus.PROCESSING)
    )
    assert delivered == 2
    remaining = {row.connection_id for row in await connections.for_image(image_id)}
    assert remaining == {"c1", "c2", "c3"}

    async def drain(url: str) -> list[dict[str, Any]]:
        response = await clients.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)
        return [json.loads(m["Body"]) for m in response.get("Messages", [])]

    (on_a,) = await drain(queues["a"])  # one message per replica, not per connection
    (on_b,) = await drain(queues["b"])
    assert on_a == on_b
    assert on_a["imageId"] == image_id
    assert on_a["status"] == "PROCESSING"
    assert await drain(queues["c"]) == []
    assert (
        await publisher.publish(
            NotificationEvent.progress(uuid.uuid4().hex, ImageStatus.PROCESSING)
        )
        == 0
    )
