"""Web accounts: two factors, lock-out, replay, inactivity, roles (SQLite and PostgreSQL)."""

from __future__ import annotations

import datetime as dt
import time

import pytest
from sqlalchemy import update

from provisioning import audit
from provisioning.accounts import REFUSED, AccountPolicy, Accounts, new_totp_secret, totp_code
from provisioning.errors import AccountError, DuplicateEntity, LoginRefused, UnknownEntity
from provisioning.registry import Registry
from provisioning.schema import accounts as accounts_table

PASSWORD = "correct horse battery"


def history(registry: Registry, subject: str) -> list[audit.AuditEntry]:
    with registry.store.read() as conn:
        return list(audit.entries(conn, subject))


@pytest.fixture(autouse=True)
def two_providers(registry: Registry) -> None:
    """Every test's registry (tests/conftest.py) has two providers."""
    registry.add_provider("P1", "Omsorg Ett", operator="test")
    registry.add_provider("P2", "Omsorg Två", operator="test")


@pytest.fixture
def accounts(registry: Registry) -> Accounts:
    return Accounts(registry.store, AccountPolicy(max_failures=3))


def enrolled(accounts: Accounts, name: str, role: str = "desk", **kw: object) -> str:
    accounts.add(name, role, PASSWORD, operator="admin", **kw)  # type: ignore[arg-type]
    secret = new_totp_secret()
    accounts.enrol(name, secret, totp_code(secret, time.time() - 30), now=time.time())
    return secret


def test_password_is_stored_as_an_argon2id_hash(accounts: Accounts, registry: Registry) -> None:
    accounts.add("anna", "desk", PASSWORD, operator="admin")
    with registry.store.read() as conn:
        stored = conn.execute(accounts_table.select()).one().password_hash
    assert stored.startswith("$argon2id$") and PASSWORD not in stored


def test_short_password_and_bad_names_are_refused(accounts: Accounts) -> None:
    with pytest.raises(AccountError, match="12 characters"):
        accounts.add("anna", "desk", "short", operator="admin")
    with pytest.raises(AccountError, match="user name"):
        accounts.add("Anna Svensson", "desk", PASSWORD, operator="admin")
    with pytest.raises(AccountError, match="role"):
        accounts.add("anna", "root", PASSWORD, operator="admin")


def test_coordinator_is_bound_to_existing_providers(accounts: Accounts) -> None:
    with pytest.raises(AccountError, match="at least one provider"):
        accounts.add("carl", "coordinator", PASSWORD, operator="admin")
    with pytest.raises(UnknownEntity, match="P9"):
        accounts.add("carl", "coordinator", PASSWORD, operator="admin", provider_ids=["P9"])
    with pytest.raises(AccountError, match="only coordinators"):
        accounts.add("dora", "desk", PASSWORD, operator="admin", provider_ids=["P1"])
    made = accounts.add("carl", "coordinator", PASSWORD, operator="admin", provider_ids=["P1"])
    assert made.providers == ("P1",)
    assert made.may_see("P1") and not made.may_see("P2")
    with pytest.raises(DuplicateEntity):
        accounts.add("carl", "desk", PASSWORD, operator="admin")


def test_wrong_passwords_lock_the_account_until_an_admin_unlocks(accounts: Accounts) -> None:
    accounts.add("anna", "desk", PASSWORD, operator="admin")
    for _ in range(3):
        with pytest.raises(LoginRefused) as refused:
            accounts.check_password("anna", "wrong password!")
        assert str(refused.value) == REFUSED
    assert accounts.get("anna").locked
    with pytest.raises(LoginRefused) as refused:
        accounts.check_password("anna", PASSWORD)  # the right password no longer helps
    assert str(refused.value) == REFUSED and refused.value.why == "account locked"
    accounts.unlock("anna", operator="admin")
    assert accounts.check_password("anna", PASSWORD).username == "anna"


def test_unknown_user_gets_the_same_message(accounts: Accounts) -> None:
    with pytest.raises(LoginRefused) as refused:
        accounts.check_password("nobody", PASSWORD)
    assert str(refused.value) == REFUSED


def test_a_code_is_accepted_once(accounts: Accounts) -> None:
    secret = enrolled(accounts, "anna")
    now = time.time()
    code = totp_code(secret, now)
    accounts.check_code("anna", code, now=now)
    with pytest.raises(LoginRefused, match=REFUSED) as refused:
        accounts.check_code("anna", code, now=now)
    assert refused.value.why == "wrong or reused code"


def test_wrong_codes_count_towards_the_lock_out(accounts: Accounts) -> None:
    secret = enrolled(accounts, "anna")
    for _ in range(3):
        with pytest.raises(LoginRefused):
            accounts.check_code("anna", "000000" if totp_code(secret) != "000000" else "111111")
    assert accounts.get("anna").locked


def test_enrolment_needs_a_matching_code_and_happens_once(accounts: Accounts) -> None:
    accounts.add("anna", "desk", PASSWORD, operator="admin")
    secret = new_totp_secret()
    with pytest.raises(LoginRefused):
        accounts.enrol("anna", secret, "12345x")
    assert not accounts.get("anna").enrolled
    accounts.enrol("anna", secret, totp_code(secret))
    assert accounts.get("anna").enrolled
    with pytest.raises(AccountError, match="already"):
        accounts.enrol("anna", new_totp_secret(), "000000")


def test_disabled_account_is_refused_like_a_wrong_password(accounts: Accounts) -> None:
    accounts.add("anna", "desk", PASSWORD, operator="admin")
    accounts.disable("anna", operator="admin", reason="left the unit")
    with pytest.raises(LoginRefused, match=REFUSED) as refused:
        accounts.check_password("anna", PASSWORD)
    assert refused.value.why == "account disabled"


def test_unused_accounts_are_disabled_then_removed(accounts: Accounts, registry: Registry) -> None:
    for name in ("old", "older", "fresh"):
        accounts.add(name, "desk", PASSWORD, operator="admin")
    now = dt.datetime.now(dt.UTC)
    with registry.store.write() as conn:
        for name, days in (("old", 600), ("older", 800), ("fresh", 10)):
            conn.execute(
                update(accounts_table)
                .where(accounts_table.c.username == name)
                .values(last_login_at=now - dt.timedelta(days=days))
            )
    done = accounts.expire_inactive(now=now)
    assert done == {"disabled": ["old"], "removed": ["older"]}
    assert [a.username for a in accounts.list()] == ["fresh", "old"]
    assert accounts.get("old").disabled
    actions = [e.action for e in history(registry, "account:older")]
    assert actions[-1] == "account.removed"


def test_every_change_is_audited_under_the_acting_name(
    accounts: Accounts, registry: Registry
) -> None:
    enrolled(accounts, "anna")
    accounts.reset_two_factor("anna", operator="web:boss", reason="lost phone")
    entries = history(registry, "account:anna")
    assert [e.action for e in entries] == [
        "account.added",
        "account.two_factor_enrolled",
        "account.two_factor_reset",
    ]
    assert entries[-1].operator == "web:boss"
    assert registry.verify_audit().ok
