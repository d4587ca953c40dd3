"""SUN tags in the registry: NTAG 424 DNA provisioned with per-tag keys and SDM (issue 14).

A SUN tag is a row of ``tags`` (product, state, batch like any tag) plus a ``sun_tags`` row
with the key version and the SDM settings written; both with the audit row in one
transaction. Keys are never stored: the verifier derives them from the master key.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import insert, select

from provisioning import audit
from provisioning.intake import IntakeMixin
from provisioning.records import TagRecord, _Record, uid_hex
from provisioning.schema import sun_tags, tags

if TYPE_CHECKING:
    import datetime as dt

    from provisioning.store import Store


@dataclass(frozen=True)
class SunTagRecord(_Record):
    uid: str
    product: str
    key_version: int
    sdm_settings: str
    template_url: str
    created_at: dt.datetime


class SunTagMixin:
    store: Store

    def record_sun_provisioned(
        self,
        uid: bytes | str,
        *,
        product: str,
        batch: str,
        operator: str,
        key_version: int,
        sdm_settings: bytes,
        template_url: str,
        signature: str | None = None,
    ) -> TagRecord:
        """A 424 DNA provisioned and verified by two reads: into stock with its SUN row."""
        key = uid_hex(uid)
        now = audit.utc_now()
        with self.store.write() as conn:
            IntakeMixin._refuse_known(conn, key)
            IntakeMixin._count(conn, batch, "provisioned")
            conn.execute(
                insert(tags).values(
                    uid=key,
                    state="in_stock",
                    product=product,
                    token=f"sun:{key}",
                    batch=batch,
                    created_at=now,
                )
            )
            conn.execute(
                insert(sun_tags).values(
                    uid=key,
                    product=product,
                    key_version=key_version,
                    sdm_settings=sdm_settings.hex().upper(),
                    template_url=template_url,
                    created_at=now,
                )
            )
            audit.append(
                conn,
                operator=operator,
                action="tag.provisioned",
                subject=f"tag:{key}",
                details={
                    "batch": batch,
                    "product": product,
                    "signature": signature,
                    "sun": {"key_version": key_version, "sdm_settings": sdm_settings.hex().upper()},
                },
            )
        record = self.tag_status(key)  # type: ignore[attr-defined]
        assert isinstance(record, TagRecord)
        return record

    def sun_tag(self, uid: bytes | str) -> SunTagRecord | None:
        """The SUN settings of *uid*, or None when it is not a SUN tag (one key read)."""
        with self.store.read() as conn:
            row = conn.execute(select(sun_tags).where(sun_tags.c.uid == uid_hex(uid))).first()
        return None if row is None else sun_record(row)


def sun_record(row: Any) -> SunTagRecord:
    return SunTagRecord(
        uid=row.uid,
        product=row.product,
        key_version=row.key_version,
        sdm_settings=row.sdm_settings,
        template_url=row.template_url,
        created_at=row.created_at,
    )
