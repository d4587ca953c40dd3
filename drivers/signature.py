"""NXP originality signature: ECDSA over secp128r1 on the raw 7-byte UID (no hash).

Verdicts: ``nxp`` (signed by NXP's key for the product family), ``test-key`` (signed by this
project's emulator test key: emulated tags only, never genuine), ``invalid``, ``missing``
(all zero, or the chip has no signature).
"""

from __future__ import annotations

import enum
from functools import cache

from ecdsa import BadSignatureError, SigningKey, VerifyingKey
from ecdsa.curves import NIST224p, SECP128r1
from ecdsa.util import sigdecode_string, sigencode_string

# A fixed private key for emulated tags. It is public on purpose: a tag signed with it is
# an emulated one, and production refuses it (``Verdict.TEST_KEY`` is not genuine).
EMULATOR_TEST_SECRET = 0x6E666362726964676520746573742121  # b"nfcbridge test!!"


class Verdict(enum.Enum):
    NXP = "nxp"
    TEST_KEY = "test-key"
    INVALID = "invalid"
    MISSING = "missing"

    @property
    def genuine(self) -> bool:
        return self is Verdict.NXP


@cache
def _verifying_key(hex_key: str) -> VerifyingKey:
    return VerifyingKey.from_string(bytes.fromhex(hex_key), curve=SECP128r1)


@cache
def _test_signing_key() -> SigningKey:
    return SigningKey.from_secret_exponent(EMULATOR_TEST_SECRET, curve=SECP128r1)


def _verifies(key: VerifyingKey, uid: bytes, signature: bytes) -> bool:
    try:
        return bool(
            key.verify_digest(signature, uid, sigdecode=sigdecode_string, allow_truncate=True)
        )
    except (BadSignatureError, ValueError, AssertionError):
        return False


def _verdict(
    uid: bytes, signature: bytes, size: int, nxp: VerifyingKey, test: SigningKey
) -> Verdict:
    """The verdict on a *size*-byte r||s *signature* of *uid*: NXP's key, then the test key."""
    if len(signature) != size or not any(signature):
        return Verdict.MISSING
    if _verifies(nxp, uid, signature):
        return Verdict.NXP
    if _verifies(test.get_verifying_key(), uid, signature):
        return Verdict.TEST_KEY
    return Verdict.INVALID


def _sign(key: SigningKey, uid: bytes) -> bytes:
    signature: bytes = key.sign_digest_deterministic(
        uid, sigencode=sigencode_string, allow_truncate=True
    )
    return signature


def verify_signature(uid: bytes, signature: bytes, nxp_public_key_hex: str) -> Verdict:
    return _verdict(uid, signature, 32, _verifying_key(nxp_public_key_hex), _test_signing_key())


def sign_with_test_key(uid: bytes) -> bytes:
    """A 32-byte r||s originality signature for an emulated tag."""
    return _sign(_test_signing_key(), uid)


# NTAG 424 DNA (and TT): 56-byte r||s, ECDSA on secp224r1 over the raw 7-byte UID (no hash).
# NXP's public key as AN12196 publishes it (section 6.2 [7.2], "Originality Signature
# Verification").
NTAG424_KEY = (
    "048A9B380AF2EE1B98DC417FECC263F8449C7625CECE82D9B916C992DA209D68422B81EC20B65A66B5102A6159"
    "6AF3379200599316A00A1410"
)


@cache
def _test_signing_key_424() -> SigningKey:
    return SigningKey.from_secret_exponent(EMULATOR_TEST_SECRET, curve=NIST224p)


@cache
def _nxp_key_424() -> VerifyingKey:
    return VerifyingKey.from_string(bytes.fromhex(NTAG424_KEY), curve=NIST224p)


def verify_signature_424(uid: bytes, signature: bytes) -> Verdict:
    return _verdict(uid, signature, 56, _nxp_key_424(), _test_signing_key_424())


def sign_with_test_key_424(uid: bytes) -> bytes:
    """A 56-byte r||s originality signature for an emulated NTAG 424 DNA."""
    return _sign(_test_signing_key_424(), uid)
