"""Provisioning one NTAG 424 DNA (or 424 DNA TagTamper) on a reader into the registry.

The chip work is ``drivers.ntag424.provision_sun``; this adds the reader (ISO-DEP), the
product from GetVersion and the registry row (``provisioning.sun_tags``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from drivers.errors import TagError
from drivers.ntag424 import Ntag424, ProvisionedSun, provision_sun

if TYPE_CHECKING:
    from drivers.base import Reader
    from provisioning.records import TagRecord
    from provisioning.registry import Registry

PRODUCT_424 = "NTAG424DNA"
PRODUCT_424_TT = "NTAG424DNATT"
HW_SUBTYPE_TT = 0x08  # GetVersion HW subtype of the TagTamper variant [unconfirmed]


@dataclass(frozen=True)
class SunProvisionResult:
    record: TagRecord
    product: str
    chip: ProvisionedSun


def product_from_version(version: bytes) -> str:
    if len(version) < 7 or version[0] != 0x04 or version[1] != 0x04:
        raise TagError(f"not an NTAG 424 DNA (GetVersion {version[:7].hex().upper()})")
    return PRODUCT_424_TT if version[2] == HW_SUBTYPE_TT else PRODUCT_424


def provision_sun_tag(
    reader: Reader,
    registry: Registry,
    *,
    master_key: bytes,
    key_version: int,
    base_url: str,
    batch: str,
    operator: str,
    accept_test_signature: bool = False,
) -> SunProvisionResult:
    """Provision the ISO-DEP tag selected on *reader* and record it in stock.

    A chip signed with the emulator's test key is accepted on a ``mock:`` reader or with
    *accept_test_signature*, never silently on a real one."""
    target = reader.target
    if target is None or not target.iso_dep:
        raise TagError("the tag on the reader is not an ISO 14443-4 (NTAG 424 DNA) tag")
    tag = Ntag424(reader.transceive_apdu)
    product = product_from_version(tag.get_version())
    done = provision_sun(
        tag,
        base_url,
        master_key,
        key_version,
        tagtamper=product == PRODUCT_424_TT,
        reactivate=reader.reselect,
        accept_test_signature=accept_test_signature or reader.url.scheme == "mock",
    )
    registry.open_batch(batch, operator=operator)
    record = registry.record_sun_provisioned(
        done.uid,
        product=product,
        batch=batch,
        operator=operator,
        key_version=key_version,
        sdm_settings=done.settings.encode_change(),
        template_url=done.template_url,
        signature=done.signature,
    )
    return SunProvisionResult(record=record, product=product, chip=done)
