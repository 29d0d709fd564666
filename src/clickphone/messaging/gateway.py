"""The SMS gateway: SMPP links to the carriers, delayed sending, receipts, incoming SMS.

One :class:`~clickphone.messaging.smpp.SmppLink` per enabled trunk with an SMSC
(``trunks.smpp_host``), kept in step with the trunks (``trunk.*`` events). An SMS becomes
``queued`` in the sender's transaction together with a ``message.queued`` outbox event; the
gateway claims it (``queued`` → ``sending``, one row update, so two deliveries of the event
or two nodes never send it twice) and submits it through the trunks that serve the number,
in the order calls use (the tenant's own first, the longest prefix, priority, the cheaper
rate). The SMSC's answer makes it ``sent`` (with the SMSC's ids, one per part, in
``sms_parts``) or, when every SMSC refused it, ``failed``; when no link is up it goes back to
``queued`` and is tried again every ``retry_interval`` until ``max_queue_age`` has passed.
Receipts make it ``delivered`` (every part delivered) or ``failed``; the sender is notified
of a failure. A receipt can overtake our record of the submit (the SMSC answers the submit and
sends the receipt back to back): it is kept in memory until the record exists. A message
left ``sending`` by a crash (the SMSC may or may not have taken it) is ``failed`` with the
reason ``interrupted`` on start, never sent twice behind the user's back.

An SMS to one of our own numbers is delivered on-net, without a carrier. Incoming SMS
(``deliver_sm`` to one of our numbers) are stored before the SMSC is
acknowledged, so a crash makes the SMSC deliver them again rather than lose them.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from datetime import timedelta
from functools import partial
from typing import Any

from sqlalchemy import or_, select, update

from clickphone.bus.bus import EventBus
from clickphone.bus.events import Event
from clickphone.db.models import Message, SmsPart, Trunk, utcnow
from clickphone.db.session import Database
from clickphone.logging import get_logger
from clickphone.messaging.service import MessagingService, emit, member_ids
from clickphone.messaging.smpp import (
    DeliveryReceipt,
    InboundSms,
    SmppAccount,
    SmppLink,
    SmsRejected,
    SmsUnavailable,
)
from clickphone.notifications.service import notify
from clickphone.trunks.dialplan import normalize
from clickphone.trunks.registry import spec_of
from clickphone.trunks.secrets import TrunkSecrets

log = get_logger(__name__)

TRUNK_EVENTS = ("trunk.created", "trunk.updated", "trunk.deleted")
FAILED_RECEIPTS = ("failed", "expired", "rejected")
LinkFactory = Callable[..., SmppLink]


def _e164(address: str) -> str:
    digits = address.strip()
    if digits.startswith("+"):
        return digits
    return normalize(digits, "") or ("+" + digits if digits.isdigit() else digits)


def _route_key(trunk: Trunk, tenant_id: int, number: str) -> tuple[Any, ...] | None:
    """Sort key of a trunk able to carry an SMS of ``tenant_id`` to ``number``, else None."""
    if not trunk.enabled or not trunk.smpp_host or trunk.tenant_id not in (None, tenant_id):
        return None
    matched = spec_of(trunk).serves(number)  # the prefix match calls use
    if matched < 0:
        return None
    rate = trunk.sms_rate if trunk.sms_rate is not None else 1 << 30
    return (trunk.tenant_id is None, -matched, trunk.priority, rate, trunk.id)


class SmsGateway:
    def __init__(
        self,
        database: Database,
        bus: EventBus,
        *,
        secret_key: str,
        link_factory: LinkFactory = SmppLink,
        tick: float = 1.0,
        retry_interval: float = 10.0,
        max_queue_age: timedelta = timedelta(hours=24),
        receipt_wait: float = 10.0,
    ) -> None:
        self.database = database
        self.bus = bus
        self.secrets = TrunkSecrets(secret_key)
        self.link_factory = link_factory
        self.tick = tick
        self.retry_interval = retry_interval
        self.max_queue_age = max_queue_age
        self.receipt_wait = receipt_wait
        self.service = MessagingService()
        self.links: dict[int, tuple[SmppAccount, SmppLink]] = {}
        self._unsubscribe: list[Callable[[], None]] = []
        self._tasks: list[asyncio.Task[None]] = []
        self._reload = asyncio.Event()
        self._sending: set[str] = set()
        self._early: dict[tuple[int, str], DeliveryReceipt] = {}
        self._background: set[asyncio.Task[None]] = set()
        self.submitted = 0

    # -- lifecycle ------------------------------------------------------------------------

    async def start(self) -> None:
        await self._recover()
        await self._sync_links()
        self._unsubscribe = [self.bus.subscribe("message.queued", self._on_queued)]
        self._unsubscribe += [self.bus.subscribe(n, self._on_trunk) for n in TRUNK_EVENTS]
        self._tasks = [
            asyncio.create_task(self._scheduler(), name="sms-scheduler"),
            asyncio.create_task(self._retrier(), name="sms-retry"),
            asyncio.create_task(self._link_keeper(), name="sms-links"),
        ]

    async def stop(self) -> None:
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        self._unsubscribe = []
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks = []
        for bg in list(self._background):
            bg.cancel()
        for _account, link in self.links.values():
            await link.stop()
        self.links.clear()

    def status(self) -> list[dict[str, Any]]:
        return [
            {"trunk_id": tid, "host": acc.host, "port": acc.port, "bound": link.bound}
            for tid, (acc, link) in sorted(self.links.items())
        ]

    async def _recover(self) -> None:
        """Messages a previous process left ``sending``: the SMSC's answer is lost."""
        async with self.database.transaction() as session:
            stuck = list(
                (await session.execute(select(Message).where(Message.status == "sending")))
                .scalars()
                .all()
            )
            for msg in stuck:
                await self._fail(session, msg, "interrupted: the server stopped while sending")

    # -- links ----------------------------------------------------------------------------

    async def _on_trunk(self, _event: Event) -> None:
        self._reload.set()

    async def _link_keeper(self) -> None:
        while True:
            await self._reload.wait()
            self._reload.clear()
            try:
                await self._sync_links()
            except Exception:
                log.exception("sms.links_sync_failed")

    async def _sync_links(self) -> None:
        async with self.database.session() as session:
            trunks = list(
                (
                    await session.execute(
                        select(Trunk).where(Trunk.enabled.is_(True), Trunk.smpp_host.is_not(None))
                    )
                ).scalars()
            )
        wanted: dict[int, tuple[SmppAccount, str]] = {}
        for t in trunks:
            if not t.smpp_host or not t.smpp_system_id:
                continue
            account = SmppAccount(
                host=t.smpp_host,
                port=t.smpp_port,
                system_id=t.smpp_system_id,
                password=self.secrets.decrypt(t.smpp_password) or "",
                system_type=t.smpp_system_type or "",
            )
            wanted[t.id] = (account, t.name)
        for tid in list(self.links):
            if tid not in wanted or wanted[tid][0] != self.links[tid][0]:
                _account, link = self.links.pop(tid)
                await link.stop()
        for tid, (account, name) in wanted.items():
            if tid in self.links:
                continue
            link = self.link_factory(
                account,
                name=name,
                on_inbound=partial(self._inbound, tid),
                on_receipt=partial(self._receipt, tid),
            )
            self.links[tid] = (account, link)
            await link.start()
            log.info("sms.link_started", trunk=name, host=account.host, port=account.port)

    # -- sending --------------------------------------------------------------------------

    async def _on_queued(self, event: Event) -> None:
        await self.send(str(event.payload["message_id"]))

    async def _scheduler(self) -> None:
        while True:
            try:
                async with self.database.transaction() as session:
                    await self.service.release_due(session, utcnow())
            except Exception:
                log.exception("sms.scheduler_failed")
            await asyncio.sleep(self.tick)

    async def _retrier(self) -> None:
        while True:
            await asyncio.sleep(self.retry_interval)
            try:
                await self.retry_queued()
            except Exception:
                log.exception("sms.retry_failed")

    async def retry_queued(self) -> None:
        async with self.database.session() as session:
            ids = list(
                (
                    await session.execute(
                        select(Message.id)
                        .where(Message.status == "queued", Message.channel == "sms")
                        .order_by(Message.created_at)
                        .limit(500)
                    )
                ).scalars()
            )
        for message_id in ids:
            await self.send(message_id)

    async def _claim(self, message_id: str) -> Message | None:
        async with self.database.transaction() as session:
            result = await session.execute(
                update(Message)
                .where(Message.id == message_id, Message.status == "queued")
                .values(status="sending")
            )
            if not getattr(result, "rowcount", 0):
                return None
            msg = await session.get(Message, message_id)
            if msg is not None:
                session.expunge(msg)
            return msg

    async def send(self, message_id: str) -> None:
        """Submit one queued SMS (no-op when it is not queued any more)."""
        if message_id in self._sending:
            return
        self._sending.add(message_id)
        try:
            msg = await self._claim(message_id)
            if msg is not None and not await self._on_net(msg):
                await self._submit(msg)
        finally:
            self._sending.discard(message_id)

    async def _on_net(self, msg: Message) -> bool:
        """An SMS to one of our own numbers never leaves: it is delivered to that number's
        users at once (in one transaction with the sender's "delivered"), free of charge."""
        async with self.database.transaction() as session:
            row = await session.get(Message, msg.id)
            if row is None or row.external_number is None or row.line is None:
                return False
            incoming = await self.service.receive_sms(
                session, row.external_number, row.line, row.body
            )
            if incoming is None:
                return False
            now = utcnow()
            row.status, row.error, row.sent_at, row.delivered_at = "delivered", "", now, now
            row.cost = 0
            emit(session, "message.status", row, await member_ids(session, row.conversation_id))
        log.info("sms.on_net", message=msg.id)
        return True

    async def _routes(self, msg: Message) -> list[Trunk]:
        async with self.database.session() as session:
            trunks = (
                await session.execute(
                    select(Trunk).where(
                        Trunk.smpp_host.is_not(None),
                        or_(Trunk.tenant_id.is_(None), Trunk.tenant_id == msg.tenant_id),
                    )
                )
            ).scalars()
            keyed = [
                (key, t)
                for t in trunks
                if (key := _route_key(t, msg.tenant_id, msg.external_number or "")) is not None
            ]
        keyed.sort(key=lambda kt: kt[0])
        return [t for _k, t in keyed]

    async def _submit(self, msg: Message) -> None:
        refused: list[str] = []
        for trunk in await self._routes(msg):
            entry = self.links.get(trunk.id)
            if entry is None or not entry[1].bound:
                continue
            try:
                result = await entry[1].submit(msg.line or "", msg.external_number or "", msg.body)
            except SmsRejected as exc:
                refused.append(f"{trunk.name}: {exc.name}")
                log.warning("sms.refused", trunk=trunk.name, status=exc.name, message=msg.id)
                continue
            except SmsUnavailable as exc:
                log.warning("sms.link_unavailable", trunk=trunk.name, error=str(exc))
                continue
            self.submitted += 1
            await self._sent(msg, trunk, result.provider_ids)
            return
        async with self.database.transaction() as session:
            row = await session.get(Message, msg.id)
            if row is None:
                return
            if refused:
                await self._fail(
                    session, row, "refused by the carrier (" + "; ".join(refused) + ")"
                )
            elif utcnow() - row.created_at > self.max_queue_age:
                await self._fail(session, row, "no SMS route was available in time")
            else:
                row.status, row.error = "queued", "no SMS route available now; will retry"

    async def _sent(self, msg: Message, trunk: Trunk, provider_ids: list[str]) -> None:
        async with self.database.transaction() as session:
            row = await session.get(Message, msg.id)
            if row is None:
                return
            now = utcnow()
            row.status, row.sent_at, row.error = "sent", now, ""
            row.trunk_id = trunk.id
            row.parts = max(len(provider_ids), 1)
            if trunk.sms_rate is not None:
                row.cost = trunk.sms_rate * row.parts
            for pid in provider_ids:
                session.add(
                    SmsPart(
                        message_id=row.id,
                        trunk_id=trunk.id,
                        provider_id=pid,
                        state="sent",
                        updated_at=now,
                    )
                )
            emit(session, "message.status", row, await member_ids(session, row.conversation_id))
        log.info("sms.sent", message=msg.id, trunk=trunk.name, parts=len(provider_ids))
        for pid in provider_ids:
            early = self._early.pop((trunk.id, pid), None)
            if early is not None:
                await self._apply_receipt(trunk.id, early)

    async def _fail(self, session: Any, msg: Message, error: str) -> None:
        msg.status, msg.error = "failed", error[:300]
        members = await member_ids(session, msg.conversation_id)
        emit(session, "message.status", msg, members)
        if msg.sender_user_id is not None and msg.campaign_id is None:
            await notify(
                session,
                user_id=msg.sender_user_id,
                tenant_id=msg.tenant_id,
                kind="message.failed",
                title=f"SMS to {msg.external_number} was not delivered",
                body=error,
                data={
                    "message_id": msg.id,
                    "conversation_id": msg.conversation_id,
                    "number": msg.external_number,
                },
            )

    # -- from the SMSC --------------------------------------------------------------------

    async def _receipt(self, trunk_id: int, receipt: DeliveryReceipt) -> None:
        """Called from the link's receive loop: never wait here (the loop would stall)."""
        if receipt.state in ("accepted", "unknown"):
            return
        if await self._apply_receipt(trunk_id, receipt):
            return
        # The receipt overtook our record of the submit: keep it until the record exists
        # (:meth:`_sent` applies it) and look again shortly in case the two crossed.
        key = (trunk_id, receipt.provider_id)
        self._early[key] = receipt
        while len(self._early) > 10_000:
            self._early.pop(next(iter(self._early)))
        task = asyncio.create_task(self._late_receipt(key))
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _late_receipt(self, key: tuple[int, str]) -> None:
        for _ in range(int(self.receipt_wait / 0.5)):
            await asyncio.sleep(0.5)
            receipt = self._early.get(key)
            if receipt is None:
                return
            if await self._apply_receipt(key[0], receipt):
                self._early.pop(key, None)
                return
        if self._early.pop(key, None) is not None:
            log.warning("sms.receipt_unmatched", trunk_id=key[0], id=key[1])

    async def _apply_receipt(self, trunk_id: int, receipt: DeliveryReceipt) -> bool:
        async with self.database.transaction() as session:
            part = await session.scalar(
                select(SmsPart).where(
                    SmsPart.trunk_id == trunk_id, SmsPart.provider_id == receipt.provider_id
                )
            )
            if part is None:
                return False
            part.state, part.updated_at = receipt.state, utcnow()
            await session.flush()
            msg = await session.get(Message, part.message_id)
            if msg is None or msg.status in ("delivered", "failed"):
                return True
            states = list(
                (
                    await session.execute(select(SmsPart.state).where(SmsPart.message_id == msg.id))
                ).scalars()
            )
            if any(s in FAILED_RECEIPTS for s in states):
                await self._fail(session, msg, f"not delivered ({receipt.state}: {receipt.error})")
            elif states and all(s == "delivered" for s in states):
                msg.status, msg.delivered_at = "delivered", utcnow()
                emit(session, "message.status", msg, await member_ids(session, msg.conversation_id))
            return True

    async def _inbound(self, trunk_id: int, sms: InboundSms) -> None:
        line, source = _e164(sms.destination), _e164(sms.source)
        async with self.database.transaction() as session:
            msg = await self.service.receive_sms(session, line, source, sms.text)
        if msg is None:
            log.warning("sms.inbound_unknown_number", trunk_id=trunk_id, line=line)
        else:
            log.info("sms.received", message=msg.id, line=line)


__all__ = ["SmsGateway"]
