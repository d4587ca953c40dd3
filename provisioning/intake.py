"""Tags entering the registry: batches, and the outcome of provisioning each tag.

Used by the batch runner (``provisioning.batch``). Every outcome is written atomically with
its audit row and its batch counter, so an interrupted batch resumed under the same name
counts every tag exactly once: a UID already in the registry is refused with
``TagAlreadyKnown`` (in_stock, spoiled, retired, ...), never recorded twice.

``record_attempt`` is for a failed attempt where nothing irreversible happened: no lifecycle
state is written, so the same UID can be tried again; it leaves an audit row and counts.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

from sqlalchemy import Connection, insert, select, update
from sqlalchemy.engine import Row
from sqlalchemy.exc import IntegrityError

from provisioning import audit
from provisioning.errors import DuplicateEntity, TagAlreadyKnown, UnknownEntity
from provisioning.identity import refuse_personnummer
from provisioning.records import BatchRecord, TagRecord, uid_hex
from provisioning.schema import batches, tags
from provisioning.store import Store


def check_batch_name(name: str) -> str:
    """The batch name, stripped; ``UnknownEntity`` unless it has 1-120 characters."""
    name = name.strip()
    if not name or len(name) > 120:
        raise UnknownEntity("a batch name must be 1-120 characters")
    return name


def batch_record(row: Row[Any], resumed: bool = False) -> BatchRecord:
    return BatchRecord(
        name=row.name,
        created_at=row.created_at,
        operator=row.operator,
        provisioned=row.provisioned,
        spoiled=row.spoiled,
        attempts=row.attempts,
        resumed=resumed,
    )


class IntakeMixin:
    store: Store

    tag_status: Callable[[bytes | str], TagRecord | None]  # from LookupMixin

    # -- batches ----------------------------------------------------------------------------
    def open_batch(self, name: str, *, operator: str) -> BatchRecord:
        """The batch *name*, created if new; idempotent so a batch can be resumed."""
        name = check_batch_name(name)
        refuse_personnummer(name, "the batch name")
        try:
            with self.store.write() as conn:
                row = conn.execute(select(batches).where(batches.c.name == name)).first()
                if row is not None:
                    return replace(batch_record(row), resumed=True)
                conn.execute(
                    insert(batches).values(name=name, created_at=audit.utc_now(), operator=operator)
                )
                audit.append(
                    conn, operator=operator, action="batch.opened", subject=f"batch:{name}"
                )
        except IntegrityError:  # opened by another desk between our check and insert
            raced = self.batch(name)
            assert raced is not None
            return replace(raced, resumed=True)
        found = self.batch(name)
        assert found is not None
        return found

    def batch(self, name: str) -> BatchRecord | None:
        with self.store.read() as conn:
            row = conn.execute(select(batches).where(batches.c.name == name)).first()
        return None if row is None else batch_record(row)

    def batches(self) -> list[BatchRecord]:
        with self.store.read() as conn:
            rows = conn.execute(select(batches).order_by(batches.c.created_at, batches.c.name))
            return [batch_record(row) for row in rows]

    # -- outcomes ---------------------------------------------------------------------------
    def record_provisioned(
        self,
        uid: bytes | str,
        product: str,
        token: str,
        batch: str,
        operator: str,
        details: Mapping[str, Any] | None = None,
        *,
        ndef_sha256: str | None = None,
    ) -> TagRecord:
        """A tag written, locked and verified: into stock, with its audit row.

        *ndef_sha256* (hex SHA-256 of the NDEF message written) is what a later spot check
        compares the tag's content with (``provisioning.spot_check``)."""
        key = uid_hex(uid)
        with self.store.write() as conn:
            self._refuse_known(conn, key)
            self._count(conn, batch, "provisioned")
            if conn.execute(select(tags.c.uid).where(tags.c.token == token)).first():
                raise DuplicateEntity(f"the token for tag {key} is already used by another tag")
            conn.execute(
                insert(tags).values(
                    uid=key,
                    state="in_stock",
                    product=product,
                    token=token,
                    batch=batch,
                    created_at=audit.utc_now(),
                    ndef_sha256=ndef_sha256,
                )
            )
            audit.append(
                conn,
                operator=operator,
                action="tag.provisioned",
                subject=f"tag:{key}",
                details={"batch": batch, "product": product, **dict(details or {})},
            )
        record = self.tag_status(key)
        assert record is not None
        return record

    def record_spoiled(
        self,
        uid: bytes | str,
        batch: str,
        operator: str,
        reason: str,
        details: Mapping[str, Any] | None = None,
    ) -> TagRecord:
        """A tag that provisioning made unusable (something irreversible was sent): final."""
        key = uid_hex(uid)
        with self.store.write() as conn:
            self._refuse_known(conn, key)
            self._count(conn, batch, "spoiled")
            now = audit.utc_now()
            conn.execute(
                insert(tags).values(
                    uid=key,
                    state="spoiled",
                    product=(details or {}).get("product"),
                    batch=batch,
                    created_at=now,
                    ended_at=now,
                )
            )
            audit.append(
                conn,
                operator=operator,
                action="tag.spoiled",
                subject=f"tag:{key}",
                details={"batch": batch, **dict(details or {})},
                reason=reason,
            )
        record = self.tag_status(key)
        assert record is not None
        return record

    def record_attempt(
        self,
        uid: bytes | str,
        batch: str,
        operator: str,
        details: Mapping[str, Any] | None = None,
    ) -> audit.AuditEntry:
        """A failed attempt that changed nothing irreversible: the UID may be tried again."""
        key = uid_hex(uid)
        with self.store.write() as conn:
            self._refuse_known(conn, key)
            self._count(conn, batch, "attempts")
            return audit.append(
                conn,
                operator=operator,
                action="tag.attempt_failed",
                subject=f"tag:{key}",
                details={"batch": batch, **dict(details or {})},
            )

    # -- helpers ----------------------------------------------------------------------------
    @staticmethod
    def _refuse_known(conn: Connection, key: str) -> None:
        state = conn.execute(select(tags.c.state).where(tags.c.uid == key)).scalar()
        if state is not None:
            raise TagAlreadyKnown(
                f"tag {key} is already in the registry ({state}); a UID is never provisioned twice",
                uid=key,
                state=state,
            )

    @staticmethod
    def _count(conn: Connection, batch: str, column: str) -> None:
        done = conn.execute(
            update(batches).where(batches.c.name == batch).values({column: batches.c[column] + 1})
        )
        if done.rowcount != 1:
            raise UnknownEntity(f"no batch named {batch!r} (open it first)")
