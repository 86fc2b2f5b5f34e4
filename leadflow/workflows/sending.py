"""How a lead's loop hands its messages to the send activities, beside the loop.

Each message goes to the rate-limited queue of its sender (a sending number with a queue of
its own) or the default sends queue. Runs from revision 3 send a decision's messages that
share a queue together: one activity carries at most one text and one email (they reach
different providers, so the queue's rate of sends a second still bounds each provider's),
which is one activity and one workflow task for the pair instead of two of each. A message
of a batch that would retry gets a send of its own after the batch, after its wait.

This is workflow code: time from `workflow.now()`, I/O only through activities.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from datetime import timedelta
from itertools import zip_longest
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

import leadflow.workflows.answers as answers
from leadflow.activities.payloads import (
    BatchOutcome,
    RouteRequest,
    RouteResult,
    SendBatch,
    SendRequest,
    SendResult,
)
from leadflow.engine.commands import RouteLead, SendMessage
from leadflow.engine.events import DeliveryFailed, LeadRouted
from leadflow.engine.refs import LeadRef
from leadflow.playbook.routing import Routing

SEND_TIMEOUT = timedelta(seconds=60)
SEND_HEARTBEAT = timedelta(seconds=10)  # a dead worker's send moves on within this
SEND_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=5), maximum_interval=timedelta(minutes=10)
)
ROUTE_TIMEOUT = timedelta(seconds=30)
ROUTE_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1), maximum_interval=timedelta(minutes=1)
)


def batches(
    messages: list[SendMessage], queue_of: Callable[[SendMessage], str]
) -> list[list[SendMessage]]:
    """The messages by queue, each text paired with an email of the same queue, in order."""
    by_queue: dict[str, tuple[list[SendMessage], list[SendMessage]]] = {}
    for message in messages:
        texts, emails = by_queue.setdefault(queue_of(message), ([], []))
        (emails if message.channel == "email" else texts).append(message)
    return [
        [m for m in pair if m is not None]
        for texts, emails in by_queue.values()
        for pair in zip_longest(texts, emails)
    ]


class Sender:
    """The sends of one lead's run, in flight beside its loop; a failure for good comes back
    to the loop (`failed`) as the event the engine hears."""

    def __init__(
        self,
        sends_queue: str,
        sender_queues: dict[str, str],
        failed: Callable[[DeliveryFailed | LeadRouted], None],
        *,
        batched: bool,
        local_route: bool = False,
    ) -> None:
        self._sends_queue = sends_queue
        self._sender_queues = sender_queues
        self._failed = failed
        self._heard = failed  # what comes back to the loop: a failure, routing's answer
        self._batched = batched
        self._local_route = local_route  # from revision 6: routing in the workflow task
        self._in_flight: set[asyncio.Task[None]] = set()

    @property
    def busy(self) -> bool:
        return bool(self._in_flight)

    def send(self, workflow_id: str, messages: list[SendMessage]) -> None:
        groups = batches(messages, self._queue) if self._batched else [[m] for m in messages]
        for group in groups:
            if len(group) == 1:
                self._start(self._send(workflow_id, group[0]))
            else:
                self._start(self._send_batch(workflow_id, group))

    def _start(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(work)
        self._in_flight.add(task)
        task.add_done_callback(self._in_flight.discard)

    def _queue(self, message: SendMessage) -> str:
        return self._sender_queues.get(message.sender.sms_from or "", self._sends_queue)

    async def _send(self, workflow_id: str, message: SendMessage) -> None:
        """One message, retried by its activity's policy until it is sent or fails for good."""
        try:
            await workflow.execute_activity(
                "send_message",
                SendRequest(key=f"{workflow_id}:{message.key}"),
                result_type=SendResult,
                task_queue=self._queue(message),
                start_to_close_timeout=SEND_TIMEOUT,
                heartbeat_timeout=SEND_HEARTBEAT,
                retry_policy=SEND_RETRY,
            )
        except ActivityError as exc:
            self._failed(answers.delivery_failed(message, answers.failed_kind(exc)))

    async def _send_batch(self, workflow_id: str, group: list[SendMessage]) -> None:
        keys = {m.key: m for m in group}
        try:
            outcome = await workflow.execute_activity(
                "send_messages",
                SendBatch(touches=list(keys)),
                result_type=BatchOutcome,
                task_queue=self._queue(group[0]),
                start_to_close_timeout=SEND_TIMEOUT,
                heartbeat_timeout=SEND_HEARTBEAT,
                retry_policy=SEND_RETRY,
            )
        except ActivityError as exc:  # the batch itself gave up: each message fails so
            for message in group:
                self._failed(answers.delivery_failed(message, answers.failed_kind(exc)))
            return
        if outcome is None:
            return
        for key, kind in outcome.failed.items():
            self._failed(answers.delivery_failed(keys[key], kind))
        retries = [
            self._retry(workflow_id, keys[key], seconds) for key, seconds in outcome.retry.items()
        ]
        await asyncio.gather(*retries)

    def route(self, lead: LeadRef, ask: RouteLead, routing: Routing | None) -> None:
        """Ask who takes the lead; the answer comes back to the loop as `LeadRouted`."""
        if routing is not None:
            self._start(self._route(lead, ask, routing))

    async def _route(self, lead: LeadRef, ask: RouteLead, routing: Routing) -> None:
        request = RouteRequest(lead=lead, at=workflow.now(), routing=routing, ask=ask)
        if self._local_route:  # no hop through the server's queue: speed to lead
            answer = await workflow.execute_local_activity(
                "route_lead",
                request,
                result_type=RouteResult,
                start_to_close_timeout=ROUTE_TIMEOUT,
                retry_policy=ROUTE_RETRY,
            )
        else:
            answer = await workflow.execute_activity(
                "route_lead",
                request,
                result_type=RouteResult,
                start_to_close_timeout=ROUTE_TIMEOUT,
                retry_policy=ROUTE_RETRY,  # until it answers: the team is in PostgreSQL
            )
        self._heard(LeadRouted(attempt=ask.attempt, **answer.model_dump(exclude={"notices"})))
        for key in answer.notices:  # routing's notices to users: sent, never heard back
            self._start(self._notice(key))

    async def _notice(self, key: str) -> None:
        """A notice to a user, sent exactly once as the lead's touches are. Its failure is
        the user's, not the lead's: logged, never heard by the engine."""
        try:
            await workflow.execute_activity(
                "send_message",
                SendRequest(key=key),
                result_type=SendResult,
                task_queue=self._sends_queue,
                start_to_close_timeout=SEND_TIMEOUT,
                heartbeat_timeout=SEND_HEARTBEAT,
                retry_policy=SEND_RETRY,
            )
        except ActivityError as exc:
            workflow.logger.warning("notice %s not sent: %s", key, answers.failed_kind(exc))

    async def _retry(self, workflow_id: str, message: SendMessage, seconds: float) -> None:
        wait = max(timedelta(seconds=seconds), SEND_RETRY.initial_interval)
        await workflow.sleep(wait)
        await self._send(workflow_id, message)
