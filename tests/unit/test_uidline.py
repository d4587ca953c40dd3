"""The UID-line parser: every format cheap readers print, and what counts as noise."""

from __future__ import annotations

import pytest

from drivers.uidline import UidLineError, parse_uid_line

UID7 = bytes.fromhex("04A1B2C3D4E5F6")
UID4 = bytes.fromhex("DEADBEEF")


def _dec(uid: bytes, width: int = 0, *, reverse: bool = False) -> str:
    return str(int.from_bytes(uid[::-1] if reverse else uid, "big")).zfill(width)


@pytest.mark.parametrize(
    "line",
    [
        "04:A1:B2:C3:D4:E5:F6",
        "04 A1 B2 C3 D4 E5 F6",
        "04-a1-b2-c3-d4-e5-f6",
        "04A1B2C3D4E5F6",
        "0x04A1B2C3D4E5F6",
        "UID: 04 A1 B2 C3 D4 E5 F6",
        "Card UID = 04A1B2C3D4E5F6",
        " 4 A1 B2 C3 D4 E5 F6",  # Arduino Serial.print(b, HEX) drops leading zeros
        "\x0204A1B2C3D4E5F6\x03",  # STX/ETX framing
        "04  A1  B2  C3  D4  E5  F6\r",
    ],
)
def test_hex_lines_with_and_without_separators_give_the_uid(line: str) -> None:
    assert parse_uid_line(line) == UID7
    assert parse_uid_line(line, "hex") == UID7


def test_hex_reversed_lines_give_the_uid_in_reading_order() -> None:
    printed = UID7[::-1].hex(":").upper()
    assert parse_uid_line(printed, "hex-reversed") == UID7
    assert parse_uid_line(UID4[::-1].hex(), "hex-reversed") == UID4


def test_auto_never_guesses_byte_order() -> None:
    printed = UID7[::-1].hex()
    assert parse_uid_line(printed) == UID7[::-1]


def test_ten_digit_decimal_is_a_four_byte_uid() -> None:
    assert parse_uid_line(_dec(UID4, 10), "decimal") == UID4
    assert parse_uid_line(_dec(UID4, 10)) == UID4  # auto: 10 digits is not a hex width
    small = bytes.fromhex("00012345")
    assert parse_uid_line(_dec(small, 10)) == small


def test_decimal_of_a_seven_byte_uid_is_seven_bytes() -> None:
    text = _dec(UID7)
    assert len(text) == 16
    assert parse_uid_line(text, "decimal") == UID7
    assert parse_uid_line(text) == UID7


def test_zero_padded_width_decides_the_length_of_a_small_value() -> None:
    uid = bytes.fromhex("00000000ABCDEF")
    assert parse_uid_line(_dec(uid, 17), "decimal") == uid
    assert parse_uid_line(_dec(uid, 10), "decimal") == uid[3:]


def test_decimal_reversed() -> None:
    assert parse_uid_line(_dec(UID4, 10, reverse=True), "decimal-reversed") == UID4
    assert parse_uid_line(_dec(UID7, 17, reverse=True), "decimal-reversed") == UID7


def test_digit_lines_of_hex_width_are_hex_in_auto_mode() -> None:
    uid = bytes.fromhex("04123456789012")
    assert parse_uid_line(uid.hex()) == uid
    assert parse_uid_line("12345678") == bytes.fromhex("12345678")


@pytest.mark.parametrize(
    "line",
    [
        "",
        "   ",
        "RFID reader v1.2 ready",
        "Scan a card...",
        "04A1B2C3D4E5",  # 6 bytes: no ISO 14443 UID has that length
        "04A1B2C3D4E5F",  # odd number of digits
        "04:A1:B2:ZZ",
        "99999999999999999999999999",  # too large for any UID
        "\x00\xff\xfe",
    ],
)
def test_noise_is_rejected_with_uidlineerror(line: str) -> None:
    with pytest.raises(UidLineError):
        parse_uid_line(line)


def test_decimal_format_rejects_hex_letters() -> None:
    with pytest.raises(UidLineError):
        parse_uid_line("04A1B2C3D4E5F6", "decimal")


def test_bytes_lines_are_accepted() -> None:
    assert parse_uid_line(b"04:A1:B2:C3:D4:E5:F6\r\n") == UID7


def test_unknown_format_is_a_valueerror_not_noise() -> None:
    with pytest.raises(ValueError) as info:
        parse_uid_line("04A1B2C3", "octal")
    assert not isinstance(info.value, UidLineError)
