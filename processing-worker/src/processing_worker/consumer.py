"""The receive loop: long-polls the upload-events queue and runs one task per message.

It receives only as many messages as it has free slots, keeps each message hidden (and
its record's lease alive) while the job runs, and deletes a message only after the job
recorded its outcome. On stop it stops receiving, lets in-flight jobs finish within the
grace period, then cancels the rest (their messages become visible again).

Deletes go out in batches (:class:`~snapqueue_core.batch_delete.DeleteBatcher`): under
load, one request for two or three images. Receives are not batched the same way: a free
slot is refilled at once, since waiting for a second one could leave the Pillow thread
without work.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from snapqueue_core.batch_delete import DeleteBatcher
from snapqueue_core.store import StaleClaimError
from snapqueue_core.transient import AWS_CALL_ERRORS, STALE_RECEIPT_CODES, error_code

from .job import Disposition, Job, JobContext, JobResult, Outcome

log = logging.getLogger(__name__)


class Consumer:
    def __init__(self, ctx: JobContext, queue_url: str) -> None:
        self.ctx = ctx
        self.settings = ctx.settings
        self.queue_url = queue_url
        self.sqs = ctx.clients.sqs
        self._tasks: set[asyncio.Task[None]] = set()
        self.deletes = DeleteBatcher(self.sqs, queue_url)
        self.last_tick = time.monotonic()
        self.receiving = False

    @property
    def in_flight(self) -> int:
        return len(self._tasks)

    async def run(self, stop: asyncio.Event) -> None:
        """Receive until ``stop`` is set, then drain. Never raises for AWS trouble."""
        self.receiving = True
        backoff = 1.0
        stopping = asyncio.create_task(stop.wait())
        handing_back: asyncio.Task[None] | None = None
        try:
            while not stop.is_set():
                self.last_tick = time.monotonic()
                if not await self._wait_for_slot(stopping):
                    break
                receive = asyncio.create_task(self._receive(self._free_slots()))
                done, _ = await asyncio.wait(
                    {receive, stopping}, return_when=asyncio.FIRST_COMPLETED
                )
                if receive not in done:
                    # A long poll dropped mid-flight can still take messages, which would
                    # then hide for a whole visibility timeout: let it end and return them.
                    handing_back = asyncio.create_task(self._hand_back(receive))
                    break
                try:
                    messages = receive.result()
                except AWS_CALL_ERRORS as exc:
                    log.warning("receive failed", extra={"error": repr(exc)})
                    await asyncio.wait({stopping}, timeout=backoff)
                    backoff = min(backoff * 2, 20.0)
                    continue
                backoff = 1.0
                for message in messages:
                    self._start(message)
        finally:
            self.receiving = False
            stopping.cancel()
            await asyncio.gather(self._drain(), *([handing_back] if handing_back else []))

    async def _hand_back(self, receive: asyncio.Task[list[dict[str, Any]]]) -> None:
        """Make what a long poll still open at shutdown receives visible again at once."""
        try:
            messages = await asyncio.wait_for(receive, self.settings.shutdown_grace_seconds)
        except AWS_CALL_ERRORS as exc:
            log.info("final receive abandoned", extra={"error": repr(exc)})
            return
        for message in messages:
            try:
                await self.sqs.change_message_visibility(
                    QueueUrl=self.queue_url,
                    ReceiptHandle=message["ReceiptHandle"],
                    VisibilityTimeout=0,
                )
            except AWS_CALL_ERRORS as exc:
                log.warning("could not hand a message back", extra={"error": repr(exc)})
        if messages:
            log.info("handed back messages received while stopping", extra={"count": len(messages)})

    def _free_slots(self) -> int:
        return self.settings.jobs_in_flight - len(self._tasks)

    async def _wait_for_slot(self, stopping: asyncio.Task[bool]) -> bool:
        while self._free_slots() <= 0:
            await asyncio.wait({*self._tasks, stopping}, return_when=asyncio.FIRST_COMPLETED)
            self.last_tick = time.monotonic()
            if stopping.done():
                return False
        return True

    async def _receive(self, count: int) -> list[dict[str, Any]]:
        response = await self.sqs.receive_message(
            QueueUrl=self.queue_url,
            MaxNumberOfMessages=max(1, min(10, count)),
            WaitTimeSeconds=self.settings.receive_wait_seconds,
            AttributeNames=["ApproximateReceiveCount", "SentTimestamp"],
        )
        messages: list[dict[str, Any]] = response.get("Messages", [])
        now_ms = time.time() * 1000
        for message in messages:
            sent = message.get("Attributes", {}).get("SentTimestamp")
            if sent is not None:
                self.ctx.metrics.queue_lag_seconds.observe(max(0.0, (now_ms - int(sent)) / 1000))
        return messages

    def _start(self, message: dict[str, Any]) -> None:
        task = asyncio.create_task(self._run_job(message))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run_job(self, message: dict[str, Any]) -> None:
        metrics = self.ctx.metrics
        metrics.in_flight.inc()
        claim: dict[str, str] = {}

        def on_claim(image_id: str, token: str) -> None:
            claim.update(image_id=image_id, token=token)

        heartbeat = asyncio.create_task(self._heartbeat(message["ReceiptHandle"], claim))
        try:
            result = await Job(self.ctx, message, on_claim).run()
        except asyncio.CancelledError:
            metrics.jobs.labels(Outcome.CANCELLED.value).inc()
            await self._settle(message, JobResult(Disposition.RETRY, Outcome.CANCELLED))
            raise
        finally:
            heartbeat.cancel()
            metrics.in_flight.dec()
        metrics.jobs.labels(result.outcome.value).inc()
        await self._settle(message, result)

    async def _settle(self, message: dict[str, Any], result: JobResult) -> None:
        """Act on the message once the outcome is recorded."""
        receipt = message["ReceiptHandle"]
        if result.disposition is Disposition.DELETE:
            self.deletes.add(receipt)
            return
        delay = (
            self.settings.lease_seconds + 1
            if result.disposition is Disposition.DEFER
            else self.settings.retry_visibility_seconds
        )
        try:
            async with asyncio.timeout(5):
                await self.sqs.change_message_visibility(
                    QueueUrl=self.queue_url, ReceiptHandle=receipt, VisibilityTimeout=delay
                )
        except AWS_CALL_ERRORS as exc:
            # The message comes back after its visibility timeout; the next delivery
            # finds the recorded outcome and only re-notifies.
            log.warning(
                "could not settle message",
                extra={"disposition": result.disposition.value, "error": repr(exc)},
            )

    async def _heartbeat(self, receipt: str, claim: dict[str, str]) -> None:
        interval = self.settings.heartbeat_interval_seconds
        while True:
            await asyncio.sleep(interval)
            try:
                await self.sqs.change_message_visibility(
                    QueueUrl=self.queue_url,
                    ReceiptHandle=receipt,
                    VisibilityTimeout=self.settings.queue_visibility_timeout_seconds,
                )
                if claim:
                    await self.ctx.store.extend_lease(
                        claim["image_id"], claim["token"], self.settings.lease_seconds
                    )
            except StaleClaimError:
                log.warning("lease lost", extra={"imageId": claim.get("image_id")})
                return
            except AWS_CALL_ERRORS as exc:
                if error_code(exc) in STALE_RECEIPT_CODES:
                    return
                log.warning("heartbeat failed", extra={"error": repr(exc)})

    async def _drain(self) -> None:
        try:
            await self._finish_jobs()
        finally:
            await self.deletes.close()

    async def _finish_jobs(self) -> None:
        if not self._tasks:
            return
        grace = self.settings.shutdown_grace_seconds
        log.info("draining", extra={"inFlight": len(self._tasks), "graceSeconds": grace})
        _, pending = await asyncio.wait(set(self._tasks), timeout=grace)
        for task in pending:
            task.cancel()
        if pending:
            log.warning("cancelled unfinished jobs", extra={"count": len(pending)})
            await asyncio.gather(*pending, return_exceptions=True)
