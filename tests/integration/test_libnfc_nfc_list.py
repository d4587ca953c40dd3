"""libnfc, an implementation nobody here wrote, reads the PN532 emulator.

``nfc-list`` (Debian libnfc-bin) and ``nfc-mfultralight`` (libnfc-examples) open the pty
with their own pn532_uart driver: wake-up bytes, SAMConfiguration, the "libnfc" diagnose
echo, register read-modify-writes, InListPassiveTarget for every modulation, and (for the
dump) InDataExchange READs.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator

import pytest

from drivers.emulated.chip import EmulatedTag
from drivers.emulated.field import Field
from drivers.emulated.pn532 import Pn532Emulator

pytestmark = pytest.mark.libnfc

UID = bytes.fromhex("04E10CDA993C80")


def _run(tool: str, emulator: Pn532Emulator, *args: str) -> subprocess.CompletedProcess[str]:
    if shutil.which(tool) is None:
        pytest.fail(f"{tool} is not installed (apt install libnfc-bin libnfc-examples)")
    env = dict(
        os.environ,
        LIBNFC_DEVICE=f"pn532_uart:{emulator.device_path}",
        LIBNFC_AUTO_SCAN="false",
        LIBNFC_INTRUSIVE_SCAN="false",
    )
    return subprocess.run(
        [tool, *args], env=env, capture_output=True, text=True, timeout=60, check=False
    )


@pytest.fixture
def emulator() -> Iterator[Pn532Emulator]:
    field = Field("libnfc")
    field.place(EmulatedTag("NTAG213", uid=UID))
    with Pn532Emulator(field) as em:
        yield em


def test_nfc_list_finds_the_emulated_tag_uid(emulator: Pn532Emulator) -> None:
    result = _run("nfc-list", emulator)
    assert result.returncode == 0, result.stderr
    assert "1 ISO14443A passive target(s) found" in result.stdout
    uid_line = next(line for line in result.stdout.splitlines() if "UID (NFCID1)" in line)
    assert bytes.fromhex(uid_line.split(":", 1)[1]) == UID
    assert emulator.chip.unknown == []  # libnfc needed no command the emulator lacks


def test_nfc_list_sees_an_empty_field(emulator: Pn532Emulator) -> None:
    emulator.field.remove()
    result = _run("nfc-list", emulator)
    assert result.returncode == 0, result.stderr
    assert "UID" not in result.stdout


def test_nfc_mfultralight_dumps_the_tag_memory(emulator: Pn532Emulator, tmp_path) -> None:
    tag = emulator.field.tag
    assert tag is not None
    tag.memory[5 * 4 : 6 * 4] = b"\xca\xfe\xba\xbe"  # something to recognise in the dump
    dump = tmp_path / "dump.mfd"
    result = _run("nfc-mfultralight", emulator, "r", str(dump))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "NTAG213" in result.stdout  # libnfc identified it by our GET_VERSION answer
    pwd = tag.product.pwd_page * 4  # PWD and PACK always read as zeros
    assert dump.read_bytes() == bytes(tag.memory[:pwd]) + bytes(len(tag.memory) - pwd)


def test_nfc_list_sees_an_ntag_424_dna_as_iso14443_4_with_its_ats() -> None:
    from drivers.emulated.ntag424 import ATS, Ntag424Chip

    field = Field("libnfc-424")
    chip = field.place(Ntag424Chip(uid=UID))  # type: ignore[arg-type]
    with Pn532Emulator(field) as em:
        result = _run("nfc-list", em)
        unknown = em.chip.unknown
    assert result.returncode == 0, result.stderr
    assert "1 ISO14443A passive target(s) found" in result.stdout
    lines = result.stdout.splitlines()
    uid_line = next(line for line in lines if "UID (NFCID1)" in line)
    assert bytes.fromhex(uid_line.split(":", 1)[1]) == chip.uid
    sak_line = next(line for line in lines if "SAK (SEL_RES)" in line)
    assert bytes.fromhex(sak_line.split(":", 1)[1]) == b"\x20"
    ats_line = next(line for line in lines if "ATS:" in line)
    assert bytes.fromhex(ats_line.split(":", 1)[1]) == ATS[1:]  # libnfc prints it without TL
    assert unknown == []
