"""NTAG 424 DNA (SUN) tags provisioned for tests: the test master key and one call that
provisions the tag on a reader into a registry's stock."""

from __future__ import annotations

from drivers.base import Reader
from provisioning.registry import Registry
from provisioning.sun_provision import SunProvisionResult, provision_sun_tag

MASTER_HEX = "0F1E2D3C4B5A69788796A5B4C3D2E1F0"
MASTER = bytes.fromhex(MASTER_HEX)
BASE_URL = "https://tap.example/t"


def provision_test_sun_tag(
    reader: Reader,
    registry: Registry,
    *,
    batch: str,
    operator: str = "t",
    master_key: bytes = MASTER,
) -> SunProvisionResult:
    """The tag on *reader* provisioned under *master_key* (key version 1) to open BASE_URL,
    its test signature accepted (emulated chips)."""
    return provision_sun_tag(
        reader,
        registry,
        master_key=master_key,
        key_version=1,
        base_url=BASE_URL,
        batch=batch,
        operator=operator,
        accept_test_signature=True,
    )
