"""Tag commands and modelled air time to write, lock and verify one NTAG213: nfcbridge's tag
layer beside nfcpy's own ``tag.ndef.records = ...`` plus ``tag.protect()``.

Both run on the same front door: nfcpy's unmodified pn532 driver talking to the PN532
emulator on a pty (drivers.emulated.pn532), which answers from the byte-exact chip model.
Commands are counted from the chip's ``log`` (every frame the tag received), activations by
counting the chip's ``activate()`` calls. Air time uses docs/hardware.md's frame timings ("Timing"):

    activation (anticollision + select, 7-byte UID) 4.5 ms   GET_VERSION 1.2 ms
    READ_SIG 3.3 ms     READ 2.0 ms     FAST_READ 0.5 ms + 0.036 ms/page
    WRITE 0.9 ms + 4.1 ms EEPROM programming
    anything else (HALT, READ_CNT, probes) 1.0 ms [our assumption, not in docs/hardware.md]

nfcbridge's sequence: GET_VERSION, one FAST_READ of the state and the TLV area, the changed
pages (commit page last), a FAST_READ verifying them, CC / dynamic / static / CFGLCK, a
re-select and a FAST_READ verifying everything. nfcpy verifies nothing after writing or
locking. Wall times on the emulator are the median of --runs and only compare the two
paths on this machine; the counts and the modelled air time do not depend on it.

NTAG 424 DNA (issue 14): the APDUs to provision one 424 DNA / 424 DNA TT as a SUN tag
(GetVersion, then ``drivers.ntag424.provision_sun`` on the chip model), and the extra a
SUN read adds to a tap (RATS + SELECT application + SELECT file + two READ BINARY,
beside a UID-only tap).
Air time of an APDU at 106 kbit/s, our model [assumption, not in docs/hardware.md]: 0.085 ms
per byte each way (9 bits a byte) with PCB and CRC_A, 0.3 ms frame overhead per exchange,
plus 4.1 ms EEPROM programming for a command that writes non-volatile memory (WriteData,
ChangeKey, ChangeFileSettings, and the read that steps the SDM counter); the 424's crypto
processing time is not modelled.

    python bench/commands_per_tag.py [--runs 5] [--json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable
from typing import Any

import ndef

from drivers import open_reader
from drivers.emulated.chip import EmulatedTag
from drivers.emulated.field import Field
from drivers.emulated.pn532 import Pn532Emulator
from drivers.ntag import Ntag21x

URI = "https://kvitto.example.se/t/abcdefghijkl"  # 40 characters
ACTIVATION_MS = 4.5


def air_time_ms(command: bytes) -> float:
    op = command[0]
    if op == 0x60:
        return 1.2
    if op == 0x3C:
        return 3.3
    if op == 0x30:
        return 2.0
    if op == 0x3A and len(command) == 3:
        return 0.5 + 0.036 * (command[2] - command[1] + 1)
    if op == 0xA2:
        return 0.9 + 4.1
    return 1.0


class Counted:
    """A fresh NTAG213 whose activations are counted (the chip log has the commands)."""

    def __init__(self) -> None:
        self.tag = EmulatedTag("NTAG213")
        self.activations = 0
        activate = self.tag.activate

        def counting() -> bool:
            self.activations += 1
            return activate()

        self.tag.activate = counting  # type: ignore[method-assign]

    def figures(self) -> dict[str, float]:
        air = self.activations * ACTIVATION_MS + sum(air_time_ms(c) for c in self.tag.log)
        writes = sum(1 for c in self.tag.log if c[0] in (0xA2, 0xA0))
        return {
            "commands": len(self.tag.log),
            "writes": writes,
            "activations": self.activations,
            "air_ms": round(air, 1),
        }


def ours(reader_url: str, field: Field, runs: int) -> tuple[dict[str, float], float]:
    message = b"".join(ndef.message_encoder([ndef.UriRecord(URI)]))
    times, figures = [], {}
    with open_reader(reader_url) as reader:
        for _ in range(runs):
            counted = Counted()
            field.place(counted.tag)
            start = time.perf_counter()
            ntag = Ntag21x(reader, reader.wait_for_tag(5))
            ntag.identify()
            ntag.write_ndef(message)
            ntag.lock_permanently(expected_message=message)
            times.append(time.perf_counter() - start)
            figures = counted.figures()
            field.remove()
            reader.wait_for_removal(5)
    return figures, statistics.median(times)


def nfcpys(device_path: str, field: Field, runs: int) -> tuple[dict[str, float], float]:
    import nfc
    import nfc.clf.pn532
    from nfc.clf import transport

    clf = nfc.ContactlessFrontend()
    clf.device = nfc.clf.pn532.init(transport.TTY(device_path))
    times, figures = [], {}
    try:
        for _ in range(runs):
            counted = Counted()
            field.place(counted.tag)
            start = time.perf_counter()
            tag = clf.connect(rdwr={"on-connect": lambda tag: False, "iterations": 1})
            if tag is None or tag.ndef is None:
                raise RuntimeError("nfcpy did not find an NDEF tag on the emulator")
            tag.ndef.records = [ndef.UriRecord(URI)]
            if tag.protect() is not True:
                raise RuntimeError("nfcpy's protect() did not return True")
            times.append(time.perf_counter() - start)
            figures = counted.figures()
            field.remove()
    finally:
        clf.close()
    return figures, statistics.median(times)


def measure(runs: int) -> dict[str, Any]:
    results: dict[str, Any] = {}
    paths: list[tuple[str, Callable[[Pn532Emulator, Field], tuple[dict[str, float], float]]]] = [
        ("nfcbridge", lambda emu, f: ours(emu.reader_url, f, runs)),
        ("nfcpy", lambda emu, f: nfcpys(emu.device_path, f, runs)),
    ]
    for name, run in paths:
        field = Field(name)
        with Pn532Emulator(field) as emulator:
            figures, wall = run(emulator, field)
        for key, value in figures.items():
            results[f"{name}_{key}"] = value
        results[f"{name}_wall_ms_median"] = round(wall * 1000, 1)
    results["commands_ratio_nfcbridge_to_nfcpy"] = round(
        results["nfcbridge_commands"] / results["nfcpy_commands"], 2
    )
    results["air_time_ratio_nfcbridge_to_nfcpy"] = round(
        results["nfcbridge_air_ms"] / results["nfcpy_air_ms"], 2
    )
    results["wall_ratio_nfcbridge_to_nfcpy"] = round(
        results["nfcbridge_wall_ms_median"] / results["nfcpy_wall_ms_median"], 2
    )
    return results


BYTE_MS, FRAME_MS, EEPROM_MS = 0.085, 0.3, 4.1
NVM_WRITES = {0x8D, 0xC4, 0x5F, 0xD6}  # WriteData, ChangeKey, ChangeFileSettings, UPDATE


def apdu_air_ms(apdu: bytes, answer: bytes, *, steps_counter: bool = False) -> float:
    air = FRAME_MS + BYTE_MS * (len(apdu) + 3 + len(answer) + 3)
    if (apdu[1] in NVM_WRITES and answer[-2:] in (b"\x91\x00", b"\x90\x00")) or steps_counter:
        air += EEPROM_MS
    return air


class CountedChip:
    """A 424 DNA chip model whose APDUs and answers are recorded."""

    def __init__(self, tagtamper: bool) -> None:
        from drivers.emulated.ntag424 import Ntag424Chip

        self.chip = Ntag424Chip(tagtamper=tagtamper)
        self.log: list[tuple[bytes, bytes, bool]] = []
        self.activations = 0

    def transceive(self, apdu: bytes) -> bytes:
        before = self.chip.sdm_read_counter
        answer = self.chip.transceive(apdu)
        self.log.append((apdu, answer, self.chip.sdm_read_counter != before))
        return answer

    def activate(self) -> None:
        self.activations += 1
        self.chip.activate()

    def air_ms(self) -> float:
        rats = 0.5  # RATS and ATS frames [assumption]
        frames = sum(apdu_air_ms(a, r, steps_counter=c) for a, r, c in self.log)
        return self.activations * (ACTIVATION_MS + rats) + frames


def measure_424() -> dict[str, Any]:
    from drivers.ntag424 import Ntag424, provision_sun

    results: dict[str, Any] = {}
    master = bytes(range(16))
    for name, tagtamper in (("ntag424", False), ("ntag424tt", True)):
        counted = CountedChip(tagtamper)
        counted.activate()
        Ntag424(counted.transceive).get_version()  # the product check of the reader path
        provision_sun(
            Ntag424(counted.transceive),
            "https://kvitto.example.se/t",
            master,
            1,
            tagtamper=tagtamper,
            reactivate=counted.activate,
            accept_test_signature=True,
        )
        results[f"{name}_provision_commands"] = len(counted.log)
        results[f"{name}_provision_activations"] = counted.activations
        results[f"{name}_provision_air_ms"] = round(counted.air_ms(), 1)
        if not tagtamper:
            tap = CountedChip(False)
            tap.chip = counted.chip
            tap.activate()
            uid_only = tap.air_ms()
            Ntag424(tap.transceive).read_ndef_uri()
            results["sun_read_extra_commands"] = len(tap.log)
            results["sun_read_extra_air_ms"] = round(tap.air_ms() - uid_only + 0.5, 1)
            results["uid_only_tap_air_ms"] = round(ACTIVATION_MS, 1)
    return results


UNITS = {"commands": "commands", "writes": "writes", "activations": "activations"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="tags per path (median wall time)")
    parser.add_argument("--json", action="store_true", help="one JSON object of the figures")
    args = parser.parse_args()
    results = measure(args.runs)
    results.update(measure_424())
    if args.json:
        print(json.dumps({"setup": "nfcpy pn532 driver over the PN532 emulator", **results}))
        return
    print("setup: nfcpy pn532 driver over the PN532 emulator (drivers.emulated.pn532), NTAG213")
    for key, value in results.items():
        suffix = key.rsplit("_", 1)[-1]
        if key.endswith("_ms") or key.endswith("_ms_median"):
            unit = "ms"
        elif "ratio" in key:
            unit = "x"
        else:
            unit = UNITS.get(suffix, "")
        print(f"{key}: {value} {unit}".rstrip())


if __name__ == "__main__":
    main()
