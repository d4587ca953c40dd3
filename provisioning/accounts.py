"""Web accounts: who may log in, with which role, and for which providers.

The rules (from the municipalities' documents, see ``docs`` and the README):

- Every account needs two factors: a password (stored as an Argon2id hash, never in
  clear) and a TOTP code from an authenticator app, enrolled at the first login. A code is
  accepted once (its time step is recorded), so a code seen over a shoulder cannot be
  replayed.
- ``max_failures`` wrong passwords or codes in a row lock the account; only an
  administrator unlocks it (``unlock``). A locked or disabled account is refused with the
  same message as a wrong password, so a login page tells an attacker nothing.
- An account not used for ``disable_after_days`` (18 months) is disabled; one not used for
  ``remove_after_days`` (2 years) is removed. The audit trail keeps its name.
- A coordinator is bound to one or more providers and sees only their customers; desk
  operators and administrators see every provider.

Every change is an audit row under the acting account's name (``web:<username>``) or, from
the command line, the login name of the person at the terminal.
"""

from __future__ import annotations

import datetime as dt
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, delete, insert, select, update
from sqlalchemy.engine import Row

from provisioning import audit
from provisioning.errors import AccountError, DuplicateEntity, LoginRefused, UnknownEntity
from provisioning.schema import ROLES, account_providers, accounts, providers
from provisioning.store import Store

if TYPE_CHECKING:
    from argon2 import PasswordHasher

USERNAME = re.compile(r"^[a-z][a-z0-9._-]{1,63}$")
MIN_PASSWORD = 12
REFUSED = "wrong user name, password or code"  # the one message a login page shows
TOTP_STEP = 30
# Argon2id parameters of password hashes (argon2-cffi's PasswordHasher keywords); empty: the
# library's current recommended parameters. A hash carries its own, so verifying never
# depends on this. The test suite lowers them (tests/conftest.py).
PASSWORD_HASH_PARAMS: dict[str, int] = {}


@dataclass(frozen=True)
class AccountPolicy:
    max_failures: int = 5
    disable_after_days: int = 548  # about 18 months
    remove_after_days: int = 730  # 2 years

    def __post_init__(self) -> None:
        if self.max_failures < 1:
            raise ValueError("max_failures must be at least 1")
        if not 0 < self.disable_after_days < self.remove_after_days:
            raise ValueError("0 < disable_after_days < remove_after_days must hold")


@dataclass(frozen=True)
class Account:
    username: str
    role: str
    providers: tuple[str, ...]
    enrolled: bool  # two-factor set up
    locked: bool
    disabled: bool
    last_login_at: dt.datetime | None
    created_at: dt.datetime

    @property
    def operator(self) -> str:
        """The name every audit row of this account carries."""
        return f"web:{self.username}"

    def may_see(self, provider_id: str) -> bool:
        return self.role != "coordinator" or provider_id in self.providers


def _hasher() -> PasswordHasher:
    from argon2 import PasswordHasher

    default = PasswordHasher()  # Argon2id, the library's current recommended parameters
    if not PASSWORD_HASH_PARAMS:
        return default
    cost = PASSWORD_HASH_PARAMS
    return PasswordHasher(
        time_cost=cost.get("time_cost", default.time_cost),
        memory_cost=cost.get("memory_cost", default.memory_cost),
        parallelism=cost.get("parallelism", default.parallelism),
    )


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"a password needs at least {MIN_PASSWORD} characters")
    return str(_hasher().hash(password))


def new_totp_secret() -> str:
    import pyotp

    return str(pyotp.random_base32())


def totp_uri(secret: str, username: str, issuer: str = "nfcbridge") -> str:
    import pyotp

    return str(pyotp.TOTP(secret).provisioning_uri(name=username, issuer_name=issuer))


def totp_code(secret: str, at: float | None = None) -> str:
    """The code an authenticator shows at *at* (for tests and the enrolment check)."""
    import pyotp

    return str(pyotp.TOTP(secret).at(at if at is not None else time.time()))


def _matching_step(secret: str, code: str, now: float) -> int | None:
    """The time step (of now-1, now, now+1) whose code is *code*, for clock drift."""
    import pyotp

    code = code.strip().replace(" ", "")
    if not code.isdigit():
        return None
    totp = pyotp.TOTP(secret)
    here = int(now // TOTP_STEP)
    for step in (here - 1, here, here + 1):
        if totp.at(step * TOTP_STEP) == code:
            return step
    return None


class Accounts:
    """Account storage and the login rules, on the registry's store."""

    def __init__(self, store: Store, policy: AccountPolicy | None = None) -> None:
        self.store = store
        self.policy = policy or AccountPolicy()

    # -- administration ---------------------------------------------------------------------
    def add(
        self,
        username: str,
        role: str,
        password: str,
        *,
        operator: str,
        provider_ids: Iterable[str] = (),
    ) -> Account:
        if not USERNAME.match(username):
            raise AccountError(
                "a user name is 2-64 characters: lower-case letters first, then letters, "
                "digits, . _ -"
            )
        if role not in ROLES:
            raise AccountError(f"role must be one of {', '.join(ROLES)}")
        wanted = sorted(set(provider_ids))
        if role == "coordinator" and not wanted:
            raise AccountError("a coordinator needs at least one provider (--provider)")
        if role != "coordinator" and wanted:
            raise AccountError("only coordinators are bound to providers")
        digest = hash_password(password)
        with self.store.write() as conn:
            if conn.execute(
                select(accounts.c.username).where(accounts.c.username == username)
            ).first():
                raise DuplicateEntity(f"account {username} already exists")
            known = set(
                conn.execute(select(providers.c.id).where(providers.c.id.in_(wanted))).scalars()
            )
            missing = [p for p in wanted if p not in known]
            if missing:
                raise UnknownEntity(f"no provider {', '.join(missing)}")
            conn.execute(
                insert(accounts).values(
                    username=username,
                    role=role,
                    password_hash=digest,
                    created_at=audit.utc_now(),
                )
            )
            for provider_id in wanted:
                conn.execute(
                    insert(account_providers).values(username=username, provider_id=provider_id)
                )
            audit.append(
                conn,
                operator=operator,
                action="account.added",
                subject=f"account:{username}",
                details={"role": role, "providers": wanted},
            )
        return self.get(username)

    def disable(self, username: str, *, operator: str, reason: str = "") -> Account:
        return self._set_state(username, "account.disabled", operator, reason, disabled=True)

    def enable(self, username: str, *, operator: str, reason: str = "") -> Account:
        return self._set_state(username, "account.enabled", operator, reason, disabled=False)

    def unlock(self, username: str, *, operator: str, reason: str = "") -> Account:
        with self.store.write() as conn:
            self._row(conn, username)
            conn.execute(
                update(accounts)
                .where(accounts.c.username == username)
                .values(locked_at=None, failed_logins=0)
            )
            audit.append(
                conn,
                operator=operator,
                action="account.unlocked",
                subject=f"account:{username}",
                reason=reason,
            )
        return self.get(username)

    def reset_two_factor(self, username: str, *, operator: str, reason: str = "") -> Account:
        """A lost phone: the account enrols a new authenticator at its next login."""
        with self.store.write() as conn:
            self._row(conn, username)
            conn.execute(
                update(accounts)
                .where(accounts.c.username == username)
                .values(totp_secret=None, totp_last_step=None)
            )
            audit.append(
                conn,
                operator=operator,
                action="account.two_factor_reset",
                subject=f"account:{username}",
                reason=reason,
            )
        return self.get(username)

    def _set_state(
        self, username: str, action: str, operator: str, reason: str, *, disabled: bool
    ) -> Account:
        with self.store.write() as conn:
            self._row(conn, username)
            conn.execute(
                update(accounts)
                .where(accounts.c.username == username)
                .values(
                    disabled_at=audit.utc_now() if disabled else None,
                    disabled_reason=reason if disabled else None,
                    # an enabled account starts a new inactivity period
                    **({} if disabled else {"last_login_at": audit.utc_now()}),
                )
            )
            audit.append(
                conn,
                operator=operator,
                action=action,
                subject=f"account:{username}",
                reason=reason,
            )
        return self.get(username)

    def expire_inactive(self, *, now: dt.datetime | None = None) -> dict[str, list[str]]:
        """Disable accounts unused for 18 months, remove those unused for 2 years."""
        now = now or audit.utc_now()
        disable_before = now - dt.timedelta(days=self.policy.disable_after_days)
        remove_before = now - dt.timedelta(days=self.policy.remove_after_days)
        done: dict[str, list[str]] = {"disabled": [], "removed": []}
        with self.store.write() as conn:
            for row in conn.execute(select(accounts)).all():
                used = row.last_login_at or row.created_at
                if used < remove_before:
                    conn.execute(
                        delete(account_providers).where(
                            account_providers.c.username == row.username
                        )
                    )
                    conn.execute(delete(accounts).where(accounts.c.username == row.username))
                    audit.append(
                        conn,
                        operator="nfcbridge",
                        action="account.removed",
                        subject=f"account:{row.username}",
                        reason=f"not used for {self.policy.remove_after_days} days",
                    )
                    done["removed"].append(row.username)
                elif used < disable_before and row.disabled_at is None:
                    reason = f"not used for {self.policy.disable_after_days} days"
                    conn.execute(
                        update(accounts)
                        .where(accounts.c.username == row.username)
                        .values(disabled_at=now, disabled_reason=reason)
                    )
                    audit.append(
                        conn,
                        operator="nfcbridge",
                        action="account.disabled",
                        subject=f"account:{row.username}",
                        reason=reason,
                    )
                    done["disabled"].append(row.username)
        return done

    # -- logging in -------------------------------------------------------------------------
    def check_password(self, username: str, password: str) -> Account:
        """First factor. Raises ``LoginRefused`` (one message for every reason)."""
        from argon2.exceptions import InvalidHashError, VerificationError

        self.expire_inactive()
        with self.store.read() as conn:
            row = conn.execute(select(accounts).where(accounts.c.username == username)).first()
        if row is None:
            _hasher().hash(password or "-")  # the same time as for a real account
            raise LoginRefused(REFUSED, why="no such account")
        self._refuse_if_blocked(row)
        try:
            _hasher().verify(row.password_hash, password)
        except (VerificationError, InvalidHashError):
            self._failed(username, "wrong password")
        return self.get(username)

    def check_code(self, username: str, code: str, *, now: float | None = None) -> Account:
        """Second factor for an enrolled account; a code is accepted once."""
        with self.store.write() as conn:
            row = self._row(conn, username)
            self._refuse_if_blocked(row)
            if row.totp_secret is None:
                raise LoginRefused(REFUSED, why="two-factor not enrolled")
            step = _matching_step(row.totp_secret, code, now if now is not None else time.time())
            if step is not None and (row.totp_last_step is None or step > row.totp_last_step):
                conn.execute(
                    update(accounts)
                    .where(accounts.c.username == username)
                    .values(totp_last_step=step, failed_logins=0, last_login_at=audit.utc_now())
                )
                audit.append(
                    conn,
                    operator=f"web:{username}",
                    action="account.login",
                    subject=f"account:{username}",
                )
                ok = True
            else:
                ok = False
        if not ok:
            self._failed(username, "wrong or reused code")
        return self.get(username)

    def enrol(self, username: str, secret: str, code: str, *, now: float | None = None) -> Account:
        """Set up two-factor: the code shows the authenticator holds *secret*."""
        with self.store.write() as conn:
            row = self._row(conn, username)
            self._refuse_if_blocked(row)
            if row.totp_secret is not None:
                raise AccountError("two-factor is already set up for this account")
            step = _matching_step(secret, code, now if now is not None else time.time())
            if step is not None:
                conn.execute(
                    update(accounts)
                    .where(accounts.c.username == username)
                    .values(
                        totp_secret=secret,
                        totp_last_step=step,
                        failed_logins=0,
                        last_login_at=audit.utc_now(),
                    )
                )
                audit.append(
                    conn,
                    operator=f"web:{username}",
                    action="account.two_factor_enrolled",
                    subject=f"account:{username}",
                )
        if step is None:
            self._failed(username, "wrong code at enrolment")
        return self.get(username)

    def _refuse_if_blocked(self, row: Row[Any]) -> None:
        if row.disabled_at is not None:
            raise LoginRefused(REFUSED, why="account disabled")
        if row.locked_at is not None:
            raise LoginRefused(REFUSED, why="account locked")

    def _failed(self, username: str, why: str) -> None:
        with self.store.write() as conn:
            row = self._row(conn, username)
            failures = row.failed_logins + 1
            values: dict[str, object] = {"failed_logins": failures}
            if failures >= self.policy.max_failures and row.locked_at is None:
                values["locked_at"] = audit.utc_now()
            conn.execute(update(accounts).where(accounts.c.username == username).values(**values))
            audit.append(
                conn,
                operator=f"web:{username}",
                action="account.locked" if "locked_at" in values else "account.login_failed",
                subject=f"account:{username}",
                details={"failures": failures},
                reason=why,
            )
        raise LoginRefused(REFUSED, why=why)

    # -- reading ----------------------------------------------------------------------------
    def get(self, username: str) -> Account:
        with self.store.read() as conn:
            return self._account(conn, self._row(conn, username))

    def list(self) -> list[Account]:
        with self.store.read() as conn:
            rows = conn.execute(select(accounts).order_by(accounts.c.username)).all()
            return [self._account(conn, row) for row in rows]

    @staticmethod
    def _row(conn: Connection, username: str) -> Row[Any]:
        row = conn.execute(select(accounts).where(accounts.c.username == username)).first()
        if row is None:
            raise UnknownEntity(f"no account {username}")
        return row

    @staticmethod
    def _account(conn: Connection, row: Row[Any]) -> Account:
        bound = conn.execute(
            select(account_providers.c.provider_id)
            .where(account_providers.c.username == row.username)
            .order_by(account_providers.c.provider_id)
        ).scalars()
        return Account(
            username=row.username,
            role=row.role,
            providers=tuple(bound),
            enrolled=row.totp_secret is not None,
            locked=row.locked_at is not None,
            disabled=row.disabled_at is not None,
            last_login_at=row.last_login_at,
            created_at=row.created_at,
        )
