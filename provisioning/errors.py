"""Errors of the registry and provisioning layer.

::

    ProvisioningError
    ├── RegistryError            refused by a rule (CLI exit 7)
    │   ├── UnknownEntity        no such provider, customer, tag or batch
    │   ├── TransitionRefused    lifecycle forbids it (final states, wrong provider, ...)
    │   │   ├── TagAlreadyKnown  a UID already in the registry is presented for provisioning
    │   │   └── PeriodClosed     a change dated in a closed month (the month is named)
    │   ├── QuotaExceeded        pickup beyond the provider's allowance (numbers in message)
    │   ├── DuplicateEntity      already exists (provider id, customer, UID)
    │   ├── InvalidIdentity      personnummer/samordningsnummer fails date or check digit
    │   │   └── PersonnummerRefused  free text or an id holds a personnummer (never echoed)
    │   ├── InvalidInput         a value the registry cannot take (provider id, reference, quota)
    │   └── AccountError         a web account cannot be added or changed as asked
    │       └── LoginRefused     wrong password or code, locked, disabled (one message)
    ├── PseudonymKeyError        the pseudonym key is unusable or not the recorded one (config)
    │   ├── PseudonymKeyMissing  the key file does not exist
    │   └── PseudonymKeyMismatch another key than the one recorded under this key id
    └── StoreError               registry cannot be used (CLI exit 8)
        ├── StoreUnreachable     URL cannot be opened
        └── SchemaTooNew         database written by a newer nfcbridge
"""

from __future__ import annotations


class ProvisioningError(Exception):
    pass


class RegistryError(ProvisioningError):
    pass


class UnknownEntity(RegistryError):
    pass


class TransitionRefused(RegistryError):
    pass


class TagAlreadyKnown(TransitionRefused):
    """A UID is unique forever: it is never provisioned (or spoiled) a second time."""

    def __init__(self, message: str, *, uid: str, state: str) -> None:
        super().__init__(message)
        self.uid = uid
        self.state = state


class PeriodClosed(TransitionRefused):
    """A change would alter the figures of a month already closed (after its locking date)."""

    def __init__(self, message: str, *, month: str) -> None:
        super().__init__(message)
        self.month = month


class QuotaExceeded(RegistryError):
    def __init__(self, message: str, *, allowance: int, requested: int) -> None:
        super().__init__(message)
        self.allowance = allowance
        self.requested = requested


class DuplicateEntity(RegistryError):
    pass


class InvalidIdentity(RegistryError):
    pass


class PersonnummerRefused(InvalidIdentity):
    pass


class InvalidInput(RegistryError, ValueError):
    """A value the registry cannot store (malformed id or reference, negative quota)."""


class AccountError(RegistryError):
    pass


class LoginRefused(AccountError):
    """Deliberately vague towards the person logging in; ``why`` is for the audit trail."""

    def __init__(self, message: str, *, why: str) -> None:
        super().__init__(message)
        self.why = why


class PseudonymKeyError(ProvisioningError):
    pass


class PseudonymKeyMissing(PseudonymKeyError):
    pass


class PseudonymKeyMismatch(PseudonymKeyError):
    pass


class StoreError(ProvisioningError):
    pass


class StoreUnreachable(StoreError):
    pass


class SchemaTooNew(StoreError):
    pass
