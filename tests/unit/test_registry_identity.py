"""Personnummer/samordningsnummer validation and keyed pseudonyms."""

from __future__ import annotations

import datetime as dt
import os
import stat

import pytest

from provisioning.errors import InvalidIdentity, PseudonymKeyError
from provisioning.identity import (
    Pseudonymizer,
    create_key,
    external_ref,
    is_customer_ref,
    load_key,
    normalise_personnummer,
)
from tests.support.argon2_cost import PSEUDONYM_PARAMS

TODAY = dt.date(2026, 11, 24)


def check_digit(nine: str) -> str:
    """Luhn check digit over YYMMDDNNN, written out here independently of the code."""
    total = 0
    for i, ch in enumerate(nine):
        d = int(ch) * (2 - i % 2)
        total += d // 10 + d % 10
    return str((10 - total % 10) % 10)


KEY = Pseudonymizer(b"\x01" * 32, "k1", params=PSEUDONYM_PARAMS)


@pytest.mark.parametrize(
    "form", ["811218-9876", "8112189876", "198112189876", "19811218-9876", " 811218-9876 "]
)
def test_every_form_of_one_number_normalises_alike(form: str):
    assert normalise_personnummer(form, today=TODAY) == "198112189876"


def test_plus_means_a_hundred_years_or_older():
    assert normalise_personnummer("121212+1212", today=TODAY) == "191212121212"
    assert normalise_personnummer("121212-1212", today=TODAY) == "201212121212"


def test_a_samordningsnummer_has_sixty_added_to_the_day():
    assert normalise_personnummer("701063-2391", today=TODAY) == "197010632391"


@pytest.mark.parametrize(
    ("text", "check"),
    [
        ("811218-9875", "check digit"),
        ("811318-987" + check_digit("811318987"), "date"),  # month 13
        ("810230-987" + check_digit("810230987"), "date"),  # 30 February
        ("810229-987" + check_digit("810229987"), "date"),  # 1981 is no leap year
        ("8112189", "format"),
        ("81121A-9876", "format"),
        ("19811218+9876", "format"),
        ("20991218-987" + check_digit("991218987"), "future"),
    ],
)
def test_invalid_numbers_name_the_check_but_never_the_digits(text: str, check: str):
    with pytest.raises(InvalidIdentity, match=check) as info:
        normalise_personnummer(text, today=TODAY)
    digits = "".join(c for c in text if c.isdigit())
    assert digits[-4:] not in str(info.value) and digits[:6] not in str(info.value)


def test_pseudonyms_are_stable_keyed_and_carry_the_key_id():
    ref = KEY.pseudonym("811218-9876", today=TODAY)
    assert ref == KEY.pseudonym("198112189876", today=TODAY)
    assert ref.startswith("psn:k1:") and len(ref) == len("psn:k1:") + 64
    other = Pseudonymizer(b"\x02" * 32, "k2").pseudonym("811218-9876", today=TODAY)
    assert other.startswith("psn:k2:") and other[7:] != ref[7:]
    assert is_customer_ref(ref) and "\\x01" not in repr(KEY)


def test_external_ids_become_ext_refs():
    assert external_ref("4711") == "ext:4711" == external_ref("ext:4711")
    with pytest.raises(InvalidIdentity):
        external_ref("has space")


def test_a_created_key_file_is_private_and_never_replaced(tmp_path):
    path = tmp_path / "conf" / "pseudonym.key"
    create_key(path)
    key = load_key(path)
    assert len(key) == 32
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    create_key(path)
    assert load_key(path) == key


def test_a_key_file_that_is_missing_or_short_is_an_error(tmp_path):
    with pytest.raises(PseudonymKeyError, match="does not exist"):
        load_key(tmp_path / "configured.key")
    short = tmp_path / "short.key"
    short.write_bytes(b"tiny")
    short.chmod(0o600)
    with pytest.raises(PseudonymKeyError, match="too short"):
        load_key(short)
