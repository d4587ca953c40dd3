"""Errors of the application layer and the exit codes of the command line.

Exit codes (documented in the README):
    0  success
    1  unexpected internal error (a bug: please report it with the log)
    2  usage error (bad option or argument; click's own)
    3  configuration error (file, key, secret file)
    4  reader error (unknown URL scheme, reader absent, busy, gone, driver missing)
    5  no tag presented within the timeout
    6  tag error (removed mid-operation, unsupported or clone, locked, write failed,
       message too large, not the expected UID)
    7  refused by a rule of the registry (lifecycle, quota, unknown provider/customer/tag,
       invalid personnummer)
    8  store unavailable (registry or outbox unreachable, schema newer than this program)
    9  confirmation required (an irreversible operation without --yes)
   10  verification failed (audit chain broken, tag read-back differs, a spot check
       failed: ``tag check`` names the failed checks)
   11  daemon not running or unhealthy (``nfcbridge status``)
  130  interrupted (Ctrl-C)
"""

from __future__ import annotations


class AppError(Exception):
    """Base of errors raised by the nfcbridge application layer."""

    exit_code = 1


class ConfigError(AppError):
    exit_code = 3

    def __init__(self, message: str, *, file: str | None = None, key: str | None = None):
        where = ""
        if file and key:
            where = f"{file}: {key}: "
        elif file:
            where = f"{file}: "
        elif key:
            where = f"{key}: "
        super().__init__(where + message)
        self.file = file
        self.key = key


class ConfirmationRequired(AppError):
    exit_code = 9


class VerificationFailed(AppError):
    exit_code = 10


class SpotCheckFailed(VerificationFailed):
    """``tag check``: the tag failed a spot check (recorded in the audit trail)."""


class StoreUnavailable(AppError):
    exit_code = 8


class DaemonUnhealthy(AppError):
    """``nfcbridge status``: the daemon is not running, or running with problems."""

    exit_code = 11
