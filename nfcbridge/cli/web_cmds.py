"""``nfcbridge web`` (the browser front end) and ``nfcbridge account`` (its accounts).

The first administrator is made here: ``nfcbridge account add NAME --role admin``; the
password is typed at a hidden prompt, and two-factor is set up at the first login in the
browser. Later accounts can be made by an administrator in the browser.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from nfcbridge.cli.context import AppContext, emit, json_option, pass_app
from nfcbridge.cli.registry_access import open_registry
from nfcbridge.cli.tables import print_rows
from nfcbridge.errors import ConfigError

if TYPE_CHECKING:
    from provisioning.accounts import Account, Accounts
    from provisioning.registry import Registry


@click.command("web", short_help="Serve the web app for the desk and coordinators.")
@click.option("--listen", help="Loopback HOST:PORT to serve on (default: [web] listen).")
@pass_app
def web(app: AppContext, listen: str | None) -> None:
    """Serve the desk's and coordinators' web app until stopped (Ctrl-C).

    It listens on loopback only: in production put a TLS proxy (nginx, Caddy) in front.
    """
    from waitress import create_server

    from nfcbridge.listen import parse_listen
    from nfcbridge.web.app import create_app

    settings = app.settings
    value = listen or settings.web.listen
    try:
        host, port = parse_listen(value, loopback_only=True)
    except ValueError as exc:
        raise ConfigError(
            str(exc),
            file=settings.source if listen is None else None,
            key="web.listen" if listen is None else "--listen",
        ) from None
    registry = open_registry(app)
    flask_app = create_app(settings, registry)
    try:
        server = create_server(flask_app, host=host, port=port, threads=8, ident="nfcbridge")
    except OSError as exc:
        registry.close()
        raise ConfigError(
            f"cannot listen on {host}:{port}: {exc.strerror}", key="web.listen"
        ) from None
    click.echo(f"nfcbridge web on http://{host}:{port}/ (Ctrl-C stops)", err=True)
    try:
        server.run()
    except KeyboardInterrupt:
        pass
    finally:
        flask_app.extensions["nfcbridge"].jobs.stop_all()
        server.close()
        registry.close()


@click.group("account")
def account() -> None:
    """Web accounts: desk operators, coordinators and administrators."""


def _accounts(app: AppContext) -> tuple[Registry, Accounts]:
    from provisioning.accounts import AccountPolicy, Accounts

    w = app.settings.web
    registry = open_registry(app)
    policy = AccountPolicy(w.max_failures, w.disable_after_days, w.remove_after_days)
    return registry, Accounts(registry.store, policy)


def _row(a: Account) -> dict[str, object]:
    state = "disabled" if a.disabled else "locked" if a.locked else "active"
    return {
        "username": a.username,
        "role": a.role,
        "providers": ",".join(a.providers),
        "state": state,
        "two_factor": "yes" if a.enrolled else "not yet",
        "last_login": a.last_login_at.isoformat(timespec="minutes") if a.last_login_at else "",
    }


@account.command("add", short_help="Add an account (two-factor set up at first login).")
@click.argument("username")
@click.option(
    "--role",
    type=click.Choice(["desk", "coordinator", "admin"]),
    required=True,
    help="desk: provisioning, stock, pickups; coordinator: own providers' customers; "
    "admin: everything and accounts.",
)
@click.option(
    "--provider",
    "providers",
    multiple=True,
    help="A provider a coordinator works for (repeat for several).",
)
@click.password_option(
    "--password",
    prompt="Password (at least 12 characters)",
    help="Better left out: typed at a hidden prompt, twice.",
)
@json_option
@pass_app
def account_add(
    app: AppContext,
    username: str,
    role: str,
    providers: tuple[str, ...],
    password: str,
    as_json: bool,
) -> None:
    """Add an account; two-factor is set up at its first login in the browser."""
    registry, accounts = _accounts(app)
    with registry:
        made = accounts.add(username, role, password, operator=app.operator, provider_ids=providers)
    emit(
        _row(made),
        as_json,
        f"account {made.username} added ({made.role}); two-factor is set up at the first login",
    )


@account.command("list")
@json_option
@pass_app
def account_list(app: AppContext, as_json: bool) -> None:
    """List accounts with their role, providers and state."""
    registry, accounts = _accounts(app)
    with registry:
        rows = [_row(a) for a in accounts.list()]
    print_rows(rows, as_json)


def _change(action: str, help_text: str) -> click.Command:
    @click.command(action, help=help_text, short_help=help_text.split(":")[0].rstrip("."))
    @click.argument("username")
    @click.option("--reason", default="", help="Why, for the audit trail.")
    @pass_app
    def command(app: AppContext, username: str, reason: str) -> None:
        registry, accounts = _accounts(app)
        with registry:
            method = {
                "disable": accounts.disable,
                "enable": accounts.enable,
                "unlock": accounts.unlock,
                "reset-2fa": accounts.reset_two_factor,
            }[action]
            method(username, operator=app.operator, reason=reason or "-")
        click.echo(f"account {username}: {action} done")

    return command


for _action, _help in (
    ("disable", "Disable an account (someone who left); its sessions end at once."),
    ("enable", "Enable a disabled account again."),
    ("unlock", "Unlock an account locked after too many failed logins."),
    ("reset-2fa", "Forget an account's authenticator (a lost phone): it enrols again."),
):
    account.add_command(_change(_action, _help))


@account.command("expire", short_help="Disable, then remove, long-unused accounts.")
@json_option
@pass_app
def account_expire(app: AppContext, as_json: bool) -> None:
    """Disable accounts unused for [web] disable_after_days, remove those unused for
    remove_after_days (the web app also does this at every login)."""
    registry, accounts = _accounts(app)
    with registry:
        done = accounts.expire_inactive()
    emit(
        done,
        as_json,
        f"disabled: {', '.join(done['disabled']) or '-'}; "
        f"removed: {', '.join(done['removed']) or '-'}",
    )


COMMANDS: list[click.Command] = [web, account]
