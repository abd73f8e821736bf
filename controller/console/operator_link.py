"""L8 the console on the bus: an operator client that listens to everything the page shows and
submits the operators' commands through the same signed path as `citypulse cmd`.

- Subscriptions: `state`, `status/+`, `conductor/online`, `cmd/result` and `look/+`; the
  link reconnects by itself (`BusLink`), and the retained messages bring the model back.
- `submit(user, verb, arg)` builds the command with origin `console:<user>` (which the
  conductor writes in its audit log), signs it with the operator key from the credentials
  and publishes it on `cmd/submit`. The verdict comes back on `cmd/result`.
- The console keeps its own audit log of what it sent and the verdicts (`received` when an
  operator asked, then `accepted` or `rejected`), in memory for the page and, when given a
  path, appended to a file like every node's (`controller.runtime.audit`).
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable
from typing import Any

from controller.clock import Clock
from controller.console.model import CommandRecord, LiveModel, describe
from controller.protocols import bus
from controller.runtime.audit import AuditLog
from controller.runtime.bus_link import BusLink
from controller.runtime.commands import Command
from controller.runtime.credentials import Credentials
from controller.runtime.operator import operator_command, sign_command
from controller.transports.mqtt import BusClient, BusMessage

__all__ = ["AUDIT_KEPT", "OperatorLink"]

_log = logging.getLogger("citypulse.console")

AUDIT_KEPT = 50


class OperatorLink:
    def __init__(
        self,
        *,
        model: LiveModel,
        creds: Credentials,
        client: BusClient,
        clock: Clock,
        shared_offset: float,
        audit: AuditLog | None = None,
    ) -> None:
        self.model = model
        self.creds = creds
        self.clock = clock
        self.shared_offset = shared_offset  # shared time = clock.now() + offset (host UTC)
        self.topics = bus.Topics(creds.show)
        self.audit_file = audit
        self.audit_lines: deque[dict[str, Any]] = deque(maxlen=AUDIT_KEPT)
        self._ours: dict[str, Command] = {}  # id -> command, until its verdict
        self.on_update: Callable[[str], None] = lambda kind: None
        t = self.topics
        self.link = BusLink(
            client=client, clock=clock,
            filters=(t.state, t.status_all, t.conductor_online, t.cmd_result, t.look_all),
            handler=self._on_message, on_connect=self._connected,
            on_disconnect=self._disconnected,
        )  # fmt: skip

    def shared_now(self) -> float:
        return self.clock.now() + self.shared_offset

    async def _connected(self) -> None:
        self.model.connected = True
        self.on_update("connected")

    def _disconnected(self) -> None:
        self.model.connected = False
        self.on_update("connected")

    def _on_message(self, message: BusMessage) -> None:
        now = self.shared_now()
        result = None
        if message.topic == self.topics.cmd_result:
            try:
                result = bus.decode(bus.CommandResult, message.payload)
            except bus.BusPayloadError:
                result = None
        kind = self.model.on_message(self.topics, message.topic, message.payload, now)
        if result is not None and result.id in self._ours:
            self._verdict(self._ours.pop(result.id), result, now)
        if kind is not None:
            self.on_update(kind)

    # -- commands ----------------------------------------------------------------------------
    async def submit(self, user: str, verb: str, arg: str | None) -> CommandRecord:
        """Sign and publish an operator's command; `CommandError` for a bad verb or argument."""
        now = self.shared_now()
        command = operator_command(verb, arg, origin=f"console:{user}")
        envelope = sign_command(self.creds, command, now)
        record = self.model.sent(command, user, now)
        self._ours[command.id] = command
        self._audit("received", command, now)
        if not await self.link.publish(self.topics.cmd_submit, envelope, qos=1):
            self._ours.pop(command.id, None)
            reason = "not sent: the console is not connected to the broker"
            self.model.failed(record, reason)
            self._audit("rejected", command, now, reason="not-sent", detail=reason)
        self.on_update("command")
        return record

    def _verdict(self, command: Command, result: bus.CommandResult, now: float) -> None:
        if result.accepted:
            self._audit("accepted", command, now, exec_at=result.exec_at)
        else:
            code, _, detail = (result.reason or "").partition(": ")
            self._audit("rejected", command, now, reason=code if detail else "refused",
                        detail=result.reason)  # fmt: skip

    def _audit(self, event: str, command: Command, now: float, **fields: Any) -> None:
        line = {"event": event, "shared_time": now, "issuer": self.creds.role,
                "id": command.id, "kind": command.kind.value, "command": describe(command),
                "origin": command.origin, **fields}  # fmt: skip
        self.audit_lines.append(line)
        _log.info("%s %s %s by %s", event, command.id, describe(command), command.origin)
        if self.audit_file is not None:
            self.audit_file.record(
                event,  # type: ignore[arg-type]  # one of the four AuditEvent values
                local_time=self.clock.now(), shared_time=now, issuer=self.creds.role,
                command_id=command.id, kind=command.kind.value, reason=fields.get("reason"),
                detail=fields.get("detail"), exec_at=fields.get("exec_at"),
                origin=command.origin,
            )  # fmt: skip
