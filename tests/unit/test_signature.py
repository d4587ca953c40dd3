"""NXP originality signatures: published sample UID/signature pairs verify as NXP, and a
single flipped bit (in the signature or the UID) does not.

Sources of the pairs (public, copied as data): the self-tests of Proxmark3's
tools/recover_pk.py (RfidResearchGroup/proxmark3), which recover NXP's published public keys
from two NTAG21x pairs (key of AN11350) and two MIFARE Ultralight EV1 pairs (key of
AN11341); and the Ultralight EV1 pair in the tests of alexbatalov/node-nxp-originality-
verifier. We did not find the pairs in the application notes' own text here, so the
provenance is those two codebases; that they verify under NXP's keys is what we test.
"""

from __future__ import annotations

import pytest

from drivers.products import NTAG_KEY, ULEV1_KEY
from drivers.signature import Verdict, sign_with_test_key, verify_signature

PAIRS = [
    pytest.param(
        "04E10CDA993C80",
        "8B76052EE42F5567BEB53238B3E3F9950707C0DCC956B5C5EFCFDB709B2D82B3",
        NTAG_KEY,
        id="ntag21x-an11350",
    ),
    pytest.param(
        "04DB0BDA993C80",
        "6048EFD9417CD10F6B7F1818D471A7FE5B46868D2EABDC6307A1E0AAE139D8D0",
        NTAG_KEY,
        id="ntag21x-2",
    ),
    pytest.param(
        "04C1285A373080",
        "CEA2EB0B3C95D0844A95B824A7553703B3702378033BF0987899DB70151A19E7",
        ULEV1_KEY,
        id="ulev1-an11341-1",
    ),
    pytest.param(
        "04C2285A373080",
        "A561506723D422D29ED9F93E60D20B9ED1E05CC1BF81DA19FE500CA0B81CC0ED",
        ULEV1_KEY,
        id="ulev1-an11341-2",
    ),
    pytest.param(
        "04EE45DAA34084",
        "EBB6102BFF74B087D18A57A54BC375159A04EA9BC61080B7F4A85AFE1587D73B",
        ULEV1_KEY,
        id="ulev1-node-verifier",
    ),
]


def flip(data: bytes, bit: int) -> bytes:
    out = bytearray(data)
    out[bit // 8] ^= 1 << (bit % 8)
    return bytes(out)


@pytest.mark.parametrize(("uid", "sig", "key"), PAIRS)
def test_nxp_sample_pair_is_genuine(uid, sig, key):
    verdict = verify_signature(bytes.fromhex(uid), bytes.fromhex(sig), key)
    assert verdict is Verdict.NXP and verdict.genuine


@pytest.mark.parametrize(("uid", "sig", "key"), PAIRS)
@pytest.mark.parametrize("bit", [0, 77, 128, 255])
def test_one_flipped_signature_bit_is_not_genuine(uid, sig, key, bit):
    verdict = verify_signature(bytes.fromhex(uid), flip(bytes.fromhex(sig), bit), key)
    assert verdict is Verdict.INVALID and not verdict.genuine


@pytest.mark.parametrize(("uid", "sig", "key"), PAIRS)
@pytest.mark.parametrize("bit", [0, 30, 55])
def test_one_flipped_uid_bit_is_not_genuine(uid, sig, key, bit):
    verdict = verify_signature(flip(bytes.fromhex(uid), bit), bytes.fromhex(sig), key)
    assert verdict is Verdict.INVALID


def test_pair_checked_against_the_other_family_key_is_not_genuine():
    uid, sig = "04E10CDA993C80", PAIRS[0].values[1]
    assert verify_signature(bytes.fromhex(uid), bytes.fromhex(sig), ULEV1_KEY) is Verdict.INVALID


def test_emulator_test_key_is_recognised_but_not_genuine():
    uid = bytes.fromhex("04112233445566")
    verdict = verify_signature(uid, sign_with_test_key(uid), NTAG_KEY)
    assert verdict is Verdict.TEST_KEY and not verdict.genuine


def test_zero_or_short_signature_is_missing():
    uid = bytes.fromhex("04E10CDA993C80")
    assert verify_signature(uid, bytes(32), NTAG_KEY) is Verdict.MISSING
    assert verify_signature(uid, b"\x01" * 16, NTAG_KEY) is Verdict.MISSING
