"""Errors of the application layer and the one exit-code table of the command line.

Every exception a command can meet belongs to one of three trees: ``drivers.errors.NfcError``,
``provisioning.errors.ProvisioningError`` and ``AppError`` here (which the application's own
errors subclass: ``OutboxError``, ``ControlError``, ``TransientError``, ``SignatureInvalid``,
``ScenarioError``, ...). ``exit_code_for`` maps them with ``exit_table``; the table and its
meanings (10 includes a failed spot check, ``SpotCheckFailed``) are documented in
docs/architecture.md ("Exit codes") and the README.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    INTERNAL = 1  # a bug: please report it with the log
    USAGE = 2  # bad option, argument or input (click's own, end of input at a prompt)
    CONFIG = 3  # configuration: file, key, secret file
    READER = 4  # unknown URL scheme or option, reader absent, busy, gone, driver missing
    NO_TAG = 5  # no tag presented within the timeout; a batch that ran out of tags
    TAG = 6  # removed mid-operation, unsupported or clone, locked, write failed, too large
    REFUSED = 7  # refused by a rule of the registry (or by the daemon)
    STORE = 8  # registry, outbox, daemon socket or backend unavailable
    CONFIRM = 9  # an irreversible operation without --yes
    VERIFY = 10  # audit chain broken, tag read-back differs, signature invalid
    UNHEALTHY = 11  # nfcbridge status: the daemon is not running, or running with problems
    INTERRUPTED = 130  # Ctrl-C, also at a prompt


class AppError(Exception):
    """Base of errors raised by the nfcbridge application layer."""

    exit_code: ExitCode = ExitCode.INTERNAL


class ConfigError(AppError):
    exit_code = ExitCode.CONFIG

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


class UsageError(AppError):
    """Input the command cannot use (an option value, a missing directory, no input)."""

    exit_code = ExitCode.USAGE


class ConfirmationRequired(AppError):
    exit_code = ExitCode.CONFIRM


class VerificationFailed(AppError):
    exit_code = ExitCode.VERIFY


class SpotCheckFailed(VerificationFailed):
    """``tag check``: the tag failed a spot check (recorded in the audit trail)."""


class StoreUnavailable(AppError):
    exit_code = ExitCode.STORE


class DaemonUnhealthy(AppError):
    """``nfcbridge status``: the daemon is not running, or running with problems."""

    exit_code = ExitCode.UNHEALTHY


class Refused(AppError):
    """Refused by the application (the daemon, the rig) for a reason it names."""

    exit_code = ExitCode.REFUSED


class BatchIncomplete(AppError):
    """A provisioning run ended before its ``--count`` (no tag presented in time)."""

    exit_code = ExitCode.NO_TAG


class Interrupted(AppError):
    """The operator stopped the command (Ctrl-C); what was done is reported first."""

    exit_code = ExitCode.INTERRUPTED


def exit_code_for(exc: BaseException) -> ExitCode:
    """The documented exit code of *exc*: ``INTERNAL`` only for what no tree knows."""
    if isinstance(exc, AppError):
        return exc.exit_code
    if isinstance(exc, KeyboardInterrupt):
        return ExitCode.INTERRUPTED
    for cls, code in exit_table():
        if isinstance(exc, cls):
            return code
    return ExitCode.INTERNAL


def exit_table() -> tuple[tuple[type[BaseException], ExitCode], ...]:
    """The other two trees, most specific first (imported late: the CLI starts fast)."""
    from drivers import errors as d
    from provisioning import errors as p

    return (
        (d.NoTag, ExitCode.NO_TAG),
        (d.TagError, ExitCode.TAG),
        (d.ReaderError, ExitCode.READER),
        (p.StoreError, ExitCode.STORE),
        (p.RegistryError, ExitCode.REFUSED),
        (p.PseudonymKeyError, ExitCode.CONFIG),
    )
