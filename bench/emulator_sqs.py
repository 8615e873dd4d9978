"""What the emulator's one remaining moto patch buys: SQS calls against a queue's backlog.

moto builds every attribute of a queue, counting its messages, to read one setting on each
SendMessage and on each message a ReceiveMessage returns; ``read_queue_flags_directly``
reads the setting itself. Two emulators run side by side, as shipped and with
``--no-sqs-shortcut``; at each backlog a fresh queue is filled on both, then the same
SendMessage and ReceiveMessage calls are timed on each, the two interleaved call by call.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import AsyncExitStack, contextmanager
from typing import Any

import moto
from aiobotocore.session import get_session

from devstack import ready_url
from devstack.stack import ROOT, free_port
from devstack.users import EMULATOR_CREDENTIALS

from .profile import Profile
from .results import EmulatorResult, EmulatorRow, Stamp
from .stats import summary_ms

VARIANTS = {"shortcut": [], "moto": ["--no-sqs-shortcut"]}


@contextmanager
def emulator(flags: list[str]) -> Iterator[str]:
    port = free_port()
    argv = [sys.executable, "-m", "devstack.emulator", "--port", str(port), "--no-bootstrap"]
    process = subprocess.Popen(
        [*argv, "--linger", "0", *flags],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        url = ready_url(line)
        if url is None:
            raise RuntimeError(f"the emulator did not start: {line}")
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)


async def _fill(sqs: Any, url: str, count: int) -> None:
    for start in range(0, count, 10):
        entries = [
            {"Id": str(i), "MessageBody": f"backlog {start + i}"}
            for i in range(min(10, count - start))
        ]
        await sqs.send_message_batch(QueueUrl=url, Entries=entries)


async def _measure(urls: dict[str, str], backlog: int, calls: int) -> EmulatorRow:
    sends: dict[str, list[float]] = {name: [] for name in urls}
    receives: dict[str, list[float]] = {name: [] for name in urls}
    async with AsyncExitStack() as stack:
        clients = {
            name: await stack.enter_async_context(
                get_session().create_client(
                    "sqs",
                    endpoint_url=url,
                    region_name="us-east-1",
                    **EMULATOR_CREDENTIALS,
                )
            )
            for name, url in urls.items()
        }
        queues = {}
        for name, sqs in clients.items():
            queue = f"bench-{uuid.uuid4().hex[:8]}"
            queues[name] = (await sqs.create_queue(QueueName=queue))["QueueUrl"]
            await _fill(sqs, queues[name], backlog)
        for call in range(calls):
            # Interleaved, the order swapped each call: both saw the same moments.
            order = list(clients) if call % 2 == 0 else list(clients)[::-1]
            for name in order:
                began = time.perf_counter()
                await clients[name].send_message(QueueUrl=queues[name], MessageBody="timed")
                sends[name].append(time.perf_counter() - began)
            for name in order:
                began = time.perf_counter()
                await clients[name].receive_message(
                    QueueUrl=queues[name], MaxNumberOfMessages=1, VisibilityTimeout=600
                )
                receives[name].append(time.perf_counter() - began)
    return EmulatorRow(
        backlog=backlog,
        send_ms={name: summary_ms(values) for name, values in sends.items()},
        receive_ms={name: summary_ms(values) for name, values in receives.items()},
    )


def run(profile: Profile, stamp: Stamp, log: Any = print) -> EmulatorResult:
    rows = []
    with emulator(VARIANTS["shortcut"]) as shortcut, emulator(VARIANTS["moto"]) as plain:
        for backlog in profile.emulator_backlogs:
            row = asyncio.run(
                _measure({"shortcut": shortcut, "moto": plain}, backlog, profile.emulator_calls)
            )
            log(
                f"emulator: backlog {backlog}: SendMessage p50 "
                f"{row.send_ms['shortcut'].p50:.1f} ms vs moto's {row.send_ms['moto'].p50:.1f} ms"
            )
            rows.append(row)
    return EmulatorResult(
        measured=stamp, moto=moto.__version__, calls=profile.emulator_calls, rows=rows
    )
