"""Checks a reader can afford at tap time: the NXP originality signature.

Off by default (``[[readers]] check_signature = true`` turns it on per reader): at a door the
daemon normally reads only the UID from anticollision. With it on, each tap also sends
GET_VERSION and READ_SIG (two commands: about 4.5 ms of air time, about 40 ms on an ACR122U
with its host round trips: docs/hardware.md, "Timing: the physical floor of provisioning one
tag"; ``bench/taps.py`` prints the tap-to-commit time with it on and off) and the event says
what it found::

    "tag": {"uid": "04A1...", "product": "NTAG213", "genuine": true, "signature": "nxp"}

``tag.signature`` is the verdict (``nxp``, ``test-key``, ``invalid``, ``missing``, or
``unsupported`` when GET_VERSION refused the chip: not an NXP NTAG21x, e.g. a clone with a
foreign vendor byte), null when nothing was read (the check is off, the reader cannot send
commands, or the tag left before it could be read). ``tag.genuine`` is the verdict judged by
the provisioning rule: an NXP signature, or the emulator's test key on a simulated tap
(``origin: simulated``), never on a real one; ``false`` adds the anomaly ``not_genuine``.
A failed read never costs the tap: the UID is committed either way.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from drivers.base import Capability, Reader, Target
from drivers.errors import NfcError, TagUnsupported
from drivers.ntag import Ntag21x
from drivers.signature import Verdict
from nfcbridge.events import Origin

log = logging.getLogger("nfcbridge.tap_checks")

UNSUPPORTED = "unsupported"


@dataclass(frozen=True)
class SignatureCheck:
    product: str | None = None
    signature: str | None = None  # a Verdict value, "unsupported", or None: not read
    genuine: bool | None = None


NOT_READ = SignatureCheck()


def accepted(signature: str, origin: Origin) -> bool:
    """Whether a verdict counts as genuine at a tap (the provisioning rule, see above)."""
    if signature == Verdict.NXP.value:
        return True
    return signature == Verdict.TEST_KEY.value and origin == "simulated"


def check_signature(reader: Reader, target: Target, origin: Origin) -> SignatureCheck:
    """GET_VERSION and READ_SIG on the tag just seen; never raises."""
    if Capability.TRANSCEIVE not in reader.capabilities:
        return NOT_READ
    tag = Ntag21x(reader, target)
    try:
        product = tag.identify()
        verdict = tag.originality().value
    except TagUnsupported:
        return SignatureCheck(None, UNSUPPORTED, False)
    except NfcError as exc:  # removed mid-read, reader trouble: the tap still counts
        log.info("signature not read on %s: %s", reader.url, exc)
        return NOT_READ
    return SignatureCheck(product.name, verdict, accepted(verdict, origin))
