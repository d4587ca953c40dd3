"""Configuration: one TOML file (stdlib tomllib), validated into typed settings.

Errors name the file and the key. Secrets (webhook secret, pseudonym key, MQTT password) are
never in the TOML: settings name a file, or a systemd credential (``credential:NAME`` looks
in ``$CREDENTIALS_DIRECTORY``). Without ``--config`` the embedded defaults apply: mock reader,
SQLite registry and outbox under the data directory.
"""

from __future__ import annotations

import dataclasses
import os
import re
import tomllib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from nfcbridge.errors import ConfigError
from nfcbridge.limits import range_error, url_error


def default_data_dir() -> Path:
    if env := os.environ.get("NFCBRIDGE_DATA_DIR"):
        return Path(env)
    if env := os.environ.get("STATE_DIRECTORY"):  # systemd StateDirectory=
        return Path(env.split(":")[0])
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "nfcbridge"


def default_key_dir() -> Path:
    """Where the pseudonym key lives by default: a configuration directory, never the data
    directory, so a backup of the registry does not hold the key to its pseudonyms."""
    if env := os.environ.get("CONFIGURATION_DIRECTORY"):  # systemd ConfigurationDirectory=
        return Path(env.split(":")[0])
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "nfcbridge"


@dataclass(frozen=True)
class StationSettings:
    name: str = "station-1"
    data_dir: str = ""  # empty: default_data_dir()

    @property
    def path(self) -> Path:
        return Path(self.data_dir) if self.data_dir else default_data_dir()


@dataclass(frozen=True)
class RegistrySettings:
    url: str = ""  # empty: sqlite:///<data_dir>/registry.db; "none" in the daemon: no enrichment
    # empty: <default_key_dir()>/pseudonym.key, outside the data directory (created while the
    # registry holds no pseudonym of the key id); or credential:NAME. See provisioning/keys.py
    pseudonym_key_file: str = ""
    pseudonym_key_id: str = "k1"
    previous_key_id: str = ""  # during a rotation: the old key, still resolved
    previous_key_file: str = ""
    password_file: str = ""  # PostgreSQL password (file or credential:NAME), never in url
    keep_ended_days: int = 0  # `customer purge`: ended customers kept this long; 0: for ever
    # the daemon's tap-time lookup: a tap waits this long for the registry's facts, then is
    # committed without them (anomaly registry_unavailable; nfcbridge.pipeline.Enricher)
    lookup_timeout: float = 0.5


@dataclass(frozen=True)
class ProvisioningSettings:
    uri_template: str = "https://kvitto.example.se/t/{token}"
    token_bytes: int = 12
    require_genuine: bool = True
    accept_test_signatures: bool = False  # emulated tags (test rigs, demos) only
    tag_timeout: float = 30.0


@dataclass(frozen=True)
class QuotaSettings:
    per_customer: int = 1  # tags per customer without an active tag
    spare: int = 2  # extra unattached tags a provider may hold


@dataclass(frozen=True)
class MunicipalSettings:
    """The municipality's process rules (issue 13; defaults: Haninge and Nacka)."""

    locking_working_days: int = 3  # locking date: N-th working day of the next month
    order_lead_working_days: int = 1  # an order is placed at least this many working days ahead
    manual_note_keep_days: int = 180  # notes of manual registrations are purged after this
    manual_limit_percent: float = 10.0  # receiver report flags providers above this share


@dataclass(frozen=True)
class ReaderSettings:
    name: str
    url: str
    retap_window: float = 2.0  # seconds: the same tag again within this is the same tap
    signal: bool = True  # beep/LED after a committed tap
    # auto: simulated for mock: and emulators (vpcd "Virtual PCD", a pty); or reader/simulated
    origin: Literal["auto", "reader", "simulated"] = "auto"
    # read the originality signature on each tap (2 commands, ~40 ms on an ACR122U): the
    # event's tag.signature/genuine, anomaly not_genuine (nfcbridge/tap_checks.py)
    check_signature: bool = False


@dataclass(frozen=True)
class OutboxSettings:
    path: str = ""  # empty: <data_dir>/outbox.db
    # days an event stays after EVERY forwarder confirmed it (never if undelivered or dead
    # letter); 0 keeps everything forever. See nfcbridge/retention.py.
    keep_days: int = 30


@dataclass(frozen=True)
class ForwarderSettings:
    type: Literal["webhook", "mqtt", "jsonl"]
    name: str
    url: str = ""  # webhook
    secret_file: str = ""  # webhook: Standard Webhooks secret (whsec_...)
    timeout: float = 10.0
    host: str = "127.0.0.1"  # mqtt
    port: int = 1883
    topic: str = "nfcbridge/taps/{station}/{reader}"
    client_id: str = ""
    username: str = ""
    password_file: str = ""  # file or credential:NAME
    tls: bool = False  # mqtt over TLS (port 8883 usually); ca_file: empty = system CAs
    ca_file: str = ""
    allow_http: bool = False  # webhook: permit http:// to a host that is not loopback
    path: str = ""  # jsonl
    max_backoff: float = 300.0
    batch_size: int = 100


@dataclass(frozen=True)
class MetricsSettings:
    listen: str = ""  # e.g. 127.0.0.1:9464; empty: off


@dataclass(frozen=True)
class ControlSettings:
    socket: str = ""  # empty: <data_dir>/control.sock; "off" disables it


@dataclass(frozen=True)
class LoggingSettings:
    format: Literal["auto", "json", "console"] = "auto"
    level: Literal["debug", "info", "warning", "error"] = "info"


@dataclass(frozen=True)
class WebSettings:
    listen: str = "127.0.0.1:8080"  # loopback: production sits behind a TLS proxy
    secret_key_file: str = ""  # signs session cookies; empty: <data_dir>/web.key (created)
    desk_reader: str = "mock:desk?roll=ntag213"  # the desk's reader for batches and scans
    language: Literal["sv", "en"] = "sv"
    secure_cookies: bool = True  # cookies only over HTTPS (browsers treat localhost as secure)
    session_minutes: int = 480  # a login lasts a working day at most
    idle_minutes: int = 30  # and ends after this long without a request
    max_failures: int = 5  # wrong passwords or codes in a row before the account is locked
    disable_after_days: int = 548  # unused accounts are disabled (18 months) ...
    remove_after_days: int = 730  # ... and removed (2 years)


@dataclass(frozen=True)
class Settings:
    station: StationSettings = field(default_factory=StationSettings)
    registry: RegistrySettings = field(default_factory=RegistrySettings)
    provisioning: ProvisioningSettings = field(default_factory=ProvisioningSettings)
    quota: QuotaSettings = field(default_factory=QuotaSettings)
    municipal: MunicipalSettings = field(default_factory=MunicipalSettings)
    readers: tuple[ReaderSettings, ...] = ()
    outbox: OutboxSettings = field(default_factory=OutboxSettings)
    forwarders: tuple[ForwarderSettings, ...] = ()
    metrics: MetricsSettings = field(default_factory=MetricsSettings)
    control: ControlSettings = field(default_factory=ControlSettings)
    logging: LoggingSettings = field(default_factory=LoggingSettings)
    web: WebSettings = field(default_factory=WebSettings)
    source: str = "<defaults>"

    # -- derived paths ----------------------------------------------------------------------
    @property
    def data_dir(self) -> Path:
        return self.station.path

    @property
    def registry_url(self) -> str:
        return self.registry.url or f"sqlite:///{self.data_dir / 'registry.db'}"

    @property
    def pseudonym_key_path(self) -> Path:
        return Path(self.registry.pseudonym_key_file or default_key_dir() / "pseudonym.key")

    @property
    def outbox_path(self) -> Path:
        return Path(self.outbox.path or self.data_dir / "outbox.db")

    @property
    def web_key_path(self) -> Path:
        return Path(self.web.secret_key_file or self.data_dir / "web.key")

    @property
    def control_socket(self) -> Path | None:
        if self.control.socket == "off":
            return None
        return Path(self.control.socket or self.data_dir / "control.sock")


# -- loading and validation -----------------------------------------------------------------
MAX_KEEP_DAYS = 36500  # a hundred years; beyond it the cut-off date does not exist


def load_settings(path: str | os.PathLike[str] | None) -> Settings:
    """Read and validate *path*; None gives the embedded defaults."""
    if path is None:
        return Settings()
    file = str(path)
    try:
        with open(path, "rb") as fh:
            raw = tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError("no such file", file=file) from None
    except OSError as exc:
        raise ConfigError(f"cannot read: {exc.strerror}", file=file) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"not valid TOML: {exc}", file=file) from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"not UTF-8 text (byte {exc.start}): TOML is UTF-8", file=file) from None
    settings: Settings = _build(Settings, {**raw, "source": file}, file, "")
    _check(settings, file)
    return settings


def _build(cls: type, raw: Any, file: str, prefix: str) -> Any:
    if not isinstance(raw, dict):
        raise ConfigError("expected a table", file=file, key=prefix or "<root>")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    for key in raw:
        if key not in fields:
            known = ", ".join(sorted(k for k in fields if k != "source"))
            raise ConfigError(f"unknown key (known: {known})", file=file, key=prefix + key)
    values: dict[str, Any] = {}
    for name, f in fields.items():
        key = prefix + name
        if name not in raw:
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                raise ConfigError("required key missing", file=file, key=key)
            continue
        values[name] = _convert(hints[name], raw[name], file, key)
    return cls(**values)


def _convert(hint: Any, value: Any, file: str, key: str) -> Any:
    origin = typing.get_origin(hint)
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        return _build(hint, value, file, key + ".")
    if origin is tuple:  # tuple[X, ...]: an array of tables
        (item,) = typing.get_args(hint)[:1]
        if not isinstance(value, list):
            raise ConfigError("expected an array of tables ([[...]])", file=file, key=key)
        return tuple(_convert(item, v, file, f"{key}[{i}]") for i, v in enumerate(value))
    if origin is Literal:
        choices = typing.get_args(hint)
        if value not in choices:
            raise ConfigError(
                f"must be one of {', '.join(map(repr, choices))}, not {value!r}", file=file, key=key
            )
        return value
    if origin in (typing.Union, types.UnionType):
        raise TypeError(f"unsupported config type {hint}")  # not used by Settings
    if hint is float and isinstance(value, int) and not isinstance(value, bool):
        if abs(value) > 2**53:
            raise ConfigError(f"number {value} is too large", file=file, key=key)
        value = float(value)
    if hint in (str, int, float, bool) and (
        not isinstance(value, hint) or (hint is int and isinstance(value, bool))
    ):
        raise ConfigError(
            f"expected {hint.__name__}, got {type(value).__name__} {value!r}", file=file, key=key
        )
    if why := range_error(key, value):  # ranges: nfcbridge.limits.CONFIG_RANGES
        raise ConfigError(why, file=file, key=key)
    return value


def _check(settings: Settings, file: str) -> None:
    names = [r.name for r in settings.readers]
    for i, name in enumerate(names):
        if names.index(name) != i:
            raise ConfigError(
                f"duplicate reader name {name!r}", file=file, key=f"readers[{i}].name"
            )
    fnames = [f.name for f in settings.forwarders]
    for i, fw in enumerate(settings.forwarders):
        key = f"forwarders[{i}]"
        if fnames.index(fw.name) != i:
            raise ConfigError(f"duplicate forwarder name {fw.name!r}", file=file, key=key + ".name")
        if fw.type == "webhook" and not fw.url:
            raise ConfigError("a webhook forwarder needs url", file=file, key=key + ".url")
        if fw.type == "webhook" and (why := url_error(fw.url)):
            raise ConfigError(why, file=file, key=key + ".url")
        if fw.type == "webhook" and not fw.secret_file:
            raise ConfigError(
                "a webhook forwarder needs secret_file (the secret is never in the TOML)",
                file=file,
                key=key + ".secret_file",
            )
        if fw.type == "webhook" and insecure_remote_http(fw.url) and not fw.allow_http:
            raise ConfigError(
                "http:// to a host that is not loopback sends taps unencrypted: use https://, "
                "or set allow_http = true",
                file=file,
                key=key + ".url",
            )
        if fw.type == "jsonl" and not fw.path:
            raise ConfigError("a jsonl forwarder needs path", file=file, key=key + ".path")
    if settings.registry.keep_ended_days < 0:
        raise ConfigError("must not be negative", file=file, key="registry.keep_ended_days")
    if not 0 <= settings.outbox.keep_days <= MAX_KEEP_DAYS:
        raise ConfigError(
            f"must be 0 (keep every event forever) to {MAX_KEEP_DAYS} days",
            file=file,
            key="outbox.keep_days",
        )
    url = settings.registry.url
    if url and url != "none" and "://" not in url:
        raise ConfigError(
            f"expected a database URL such as sqlite:///path or postgresql://..., "
            f'or "none" (no registry), not {url!r}',
            file=file,
            key="registry.url",
        )
    q = settings.quota
    if q.per_customer < 0 or q.spare < 0:
        raise ConfigError("must not be negative", file=file, key="quota")
    m = settings.municipal
    if m.locking_working_days < 1 or m.order_lead_working_days < 0 or m.manual_note_keep_days < 1:
        raise ConfigError(
            "locking_working_days and manual_note_keep_days must be at least 1, "
            "order_lead_working_days not negative",
            file=file,
            key="municipal",
        )
    if not 0 <= m.manual_limit_percent <= 100:
        raise ConfigError("must be 0..100", file=file, key="municipal.manual_limit_percent")
    w = settings.web
    for name in ("session_minutes", "idle_minutes", "max_failures"):
        if getattr(w, name) < 1:
            raise ConfigError("must be at least 1", file=file, key=f"web.{name}")
    if not 0 < w.disable_after_days < w.remove_after_days:
        raise ConfigError(
            "must be above 0 and below web.remove_after_days",
            file=file,
            key="web.disable_after_days",
        )


_URL_PASSWORD = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*://[^:/@\s]*):[^@\s]*@")


def redact_url_passwords(text: str) -> str:
    """*text* with the password of every ``scheme://user:password@`` replaced by ``***``."""
    return _URL_PASSWORD.sub(r"\1:***@", text)


def insecure_remote_http(url: str) -> bool:
    """An ``http://`` URL whose host is not loopback (127.0.0.0/8, ::1, localhost)."""
    import ipaddress
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    if parts.scheme.lower() != "http":
        return False
    host = (parts.hostname or "").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return False
    try:
        return not ipaddress.ip_address(host).is_loopback
    except ValueError:
        return True


def registry_connect_url(settings: Settings) -> str:
    """The registry URL with the password from ``[registry] password_file`` put in."""
    url = settings.registry_url
    if not settings.registry.password_file:
        return url
    from sqlalchemy.engine import make_url

    from provisioning.store import normalise_url

    secret = read_secret(
        settings.registry.password_file, file=settings.source, key="registry.password_file"
    )
    parsed = make_url(normalise_url(url)).set(password=secret.decode())
    return parsed.render_as_string(hide_password=False)


def read_secret(reference: str, *, file: str = "", key: str = "") -> bytes:
    """Read a secret from a file path or ``credential:NAME`` (systemd LoadCredential=)."""
    if reference.startswith("credential:"):
        directory = os.environ.get("CREDENTIALS_DIRECTORY")
        if not directory:
            raise ConfigError(
                f"{reference}: $CREDENTIALS_DIRECTORY is not set", file=file or None, key=key
            )
        path = Path(directory) / reference.removeprefix("credential:")
    else:
        path = Path(reference)
    try:
        data = path.read_bytes().strip()
    except FileNotFoundError:
        raise ConfigError(
            f"secret file {path} does not exist", file=file or None, key=key
        ) from None
    except OSError as exc:
        raise ConfigError(
            f"cannot read secret file {path}: {exc.strerror}", file=file or None, key=key
        ) from None
    if not data:
        raise ConfigError(f"secret file {path} is empty", file=file or None, key=key)
    return data


def settings_as_dict(settings: Settings) -> dict[str, Any]:
    """What is in force, for ``config show`` (secrets are file names, never contents)."""
    data = dataclasses.asdict(settings)
    data["registry"]["url"] = redact_url_passwords(settings.registry.url)
    for fw in data["forwarders"]:
        fw["url"] = redact_url_passwords(fw["url"])
    data["derived"] = {
        "data_dir": str(settings.data_dir),
        "registry_url": redact_url_passwords(settings.registry_url),
        "pseudonym_key_file": str(settings.pseudonym_key_path),
        "outbox": str(settings.outbox_path),
        "control_socket": str(settings.control_socket) if settings.control_socket else "off",
    }
    return data
