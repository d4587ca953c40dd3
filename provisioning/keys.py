"""Pseudonym keys in the registry: recorded on first use, so a key cannot silently change.

The registry keeps, per key id, the key's fingerprint (an HMAC of a fixed text under the key:
it identifies the key without revealing it), the scheme and its parameters. Then:

- a different key under a recorded id is refused (``PseudonymKeyMismatch``): it would give
  every customer a second pseudonym;
- a missing key is an error once the registry holds pseudonyms of that id; a key is created
  only at the default path, and only while nothing depends on it;
- the scheme and parameters of a key id come from the registry, never from the code's
  current defaults, so a pseudonym made once is made the same way for ever;
- a registry made before revision 0006_issue12 holds ``hmac-sha256`` pseudonyms: their key id is
  recorded with that scheme on first use. New key ids get ``argon2id``.

Rotation: configure a new key id (and file) and the old one as the previous key. New
customers get the new id; a customer entered again by personnummer is found under the old
pseudonym and moved to the new one (``Registry.rekey_customer``); both ids resolve
meanwhile (``KeyRing.refs``).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import delete, func, insert, select, update

from provisioning import audit
from provisioning.errors import (
    DuplicateEntity,
    PseudonymKeyError,
    PseudonymKeyMismatch,
    PseudonymKeyMissing,
    UnknownEntity,
)
from provisioning.identity import ARGON2_PARAMS, Pseudonymizer, create_key, load_key
from provisioning.records import CustomerRecord
from provisioning.schema import customers, providers, pseudonym_keys, tags
from provisioning.store import Store


@dataclass(frozen=True)
class KeyRecord:
    key_id: str
    fingerprint: str
    scheme: str
    params: dict[str, int]


@dataclass(frozen=True)
class KeyRing:
    """The current key, and the previous one during a rotation."""

    current: Pseudonymizer
    previous: tuple[Pseudonymizer, ...] = ()

    def pseudonym(self, personnummer: str) -> str:
        return self.current.pseudonym(personnummer)

    def refs(self, personnummer: str) -> list[str]:
        """Every reference the person may be known by: the current key's first."""
        return [k.pseudonym(personnummer) for k in (self.current, *self.previous)]


def key_record(store: Store, key_id: str) -> KeyRecord | None:
    with store.read() as conn:
        row = conn.execute(select(pseudonym_keys).where(pseudonym_keys.c.key_id == key_id)).first()
    if row is None:
        return None
    return KeyRecord(row.key_id, row.fingerprint, row.scheme, json.loads(row.params))


def pseudonyms_held(store: Store, key_id: str) -> int:
    """How many customers are known by a pseudonym of *key_id*."""
    prefix = f"psn:{key_id}:"
    with store.read() as conn:
        return int(
            conn.execute(
                select(func.count())
                .select_from(customers)
                .where(customers.c.ref.startswith(prefix, autoescape=True))
            ).scalar_one()
        )


def open_key(
    store: Store,
    reference: str,
    key_id: str,
    *,
    operator: str,
    create_at: Path | None = None,
    default_params: dict[str, int] | None = None,
) -> Pseudonymizer:
    """The pseudonymizer for *key_id* read from *reference* (a path or ``credential:NAME``),
    checked against (or, on first use, recorded in) the registry.

    *create_at*: the default key path, where a key may be created while the registry holds
    nothing of this key id. Raises ``PseudonymKeyMissing`` / ``PseudonymKeyMismatch``.
    """
    record = key_record(store, key_id)
    held = pseudonyms_held(store, key_id)
    try:
        key = load_key(reference)
    except PseudonymKeyMissing:
        if record is not None or held:
            fp = f" (fingerprint {record.fingerprint[:16]})" if record else ""
            raise PseudonymKeyMissing(
                f"pseudonym key {key_id}{fp} is missing: {reference} does not exist, and the "
                f"registry holds pseudonyms made with it. Restore the key from its backup; "
                f"never make a new key under the same id"
            ) from None
        if create_at is None or Path(reference) != create_at:
            raise
        create_key(create_at)
        key = load_key(reference)
    if record is not None:
        scheme, params = record.scheme, record.params
    elif held:
        scheme, params = "hmac-sha256", {}  # pseudonyms from before revision 0006_issue12
    else:
        scheme, params = "argon2id", dict(default_params or ARGON2_PARAMS)
    made = Pseudonymizer(key, key_id, scheme, params)
    if record is None:
        _record(store, made, operator)
    elif record.fingerprint != made.fingerprint:
        raise PseudonymKeyMismatch(
            f"the pseudonym key in {reference} is not key {key_id} recorded in the registry "
            f"(fingerprint {made.fingerprint[:16]}, recorded {record.fingerprint[:16]}): "
            f"restore the recorded key, or to change keys give the new key a new id "
            f"([registry] pseudonym_key_id) and keep the old one as previous_key_file"
        )
    return made


def _record(store: Store, made: Pseudonymizer, operator: str) -> None:
    from sqlalchemy.exc import IntegrityError

    try:
        with store.write() as conn:
            conn.execute(
                insert(pseudonym_keys).values(
                    key_id=made.key_id,
                    fingerprint=made.fingerprint,
                    scheme=made.scheme,
                    params=audit.canonical_json(made.params),
                    created_at=audit.utc_now(),
                )
            )
            audit.append(
                conn,
                operator=operator,
                action="pseudonym_key.recorded",
                subject=f"pseudonym_key:{made.key_id}",
                details={
                    "fingerprint": made.fingerprint,
                    "scheme": made.scheme,
                    "params": made.params,
                },
            )
    except IntegrityError:  # recorded by another desk meanwhile: check against theirs
        again = key_record(store, made.key_id)
        if again is None or again.fingerprint != made.fingerprint:
            raise PseudonymKeyMismatch(
                f"another key was recorded as {made.key_id} meanwhile"
            ) from None


class RotationMixin:
    """Customers entered by personnummer, across a key rotation (mixed into Registry)."""

    store: Store

    add_customer: Callable[..., str]  # from Registry
    customer: Callable[[str], CustomerRecord]  # from LookupMixin

    def find_customer(self, refs: list[str]) -> CustomerRecord | None:
        """The customer known by any of *refs* (``KeyRing.refs``: current key first)."""
        for ref in refs:
            try:
                return self.customer(ref)
            except UnknownEntity:
                continue
        return None

    def enter_customer(self, refs: list[str], provider_id: str, operator: str) -> str:
        """Add a customer known by ``refs[0]`` (the current key's pseudonym); one known under
        a previous key's pseudonym (``refs[1:]``) with the same provider moves to the new one.
        """
        current = refs[0]
        with self.store.read() as conn:
            found = {
                row.ref: row.provider_id
                for row in conn.execute(select(customers).where(customers.c.ref.in_(refs)))
            }
        old = next((r for r in refs[1:] if r in found), None)
        if current in found or old is None:
            return self.add_customer(current, provider_id, operator=operator)  # or Duplicate
        if found[old] != provider_id:
            raise DuplicateEntity(
                f"customer {old} already exists (provider {found[old]}); move the customer first"
            )
        self.rekey_customer(old, current, operator=operator)
        return current

    def rekey_customer(self, old: str, new: str, *, operator: str) -> None:
        """The customer *old* is known as *new* from now on (its tags follow)."""
        with self.store.write() as conn:
            row = conn.execute(select(customers).where(customers.c.ref == old)).first()
            if row is None:
                raise UnknownEntity(f"no customer {old}")
            conn.execute(
                select(providers.c.id).where(providers.c.id == row.provider_id).with_for_update()
            )
            conn.execute(
                insert(customers).values(
                    ref=new, provider_id=row.provider_id, created_at=row.created_at
                )
            )
            conn.execute(update(tags).where(tags.c.customer_ref == old).values(customer_ref=new))
            conn.execute(delete(customers).where(customers.c.ref == old))
            audit.append(
                conn,
                operator=operator,
                action="customer.rekeyed",
                subject=f"customer:{new}",
                details={"from": old, "provider": row.provider_id},
            )


def describe(record: KeyRecord) -> dict[str, Any]:
    return {
        "key_id": record.key_id,
        "fingerprint": record.fingerprint,
        "scheme": record.scheme,
        "params": record.params,
    }


__all__ = [
    "KeyRecord",
    "KeyRing",
    "PseudonymKeyError",
    "describe",
    "key_record",
    "open_key",
    "pseudonyms_held",
]
