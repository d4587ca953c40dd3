"""`nfcbridge readers` and `nfcbridge tag info|write|lock`.

Every command opens the reader named by ``--reader`` (a URL, see ``nfcbridge readers``),
waits for one tag, and runs the one tag layer (``drivers.ntag.Ntag21x``) on it. Errors are
raised as domain exceptions; the boundary in ``nfcbridge.cli.main`` prints one line and
exits with the documented code.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import click

from nfcbridge.cli.context import AppContext, emit, json_option, pass_app
from nfcbridge.cli.params import UID, personnummer_option, reader_option, timeout_option
from nfcbridge.errors import ConfirmationRequired

if TYPE_CHECKING:
    from drivers.base import Reader, Target
    from drivers.ntag import Ntag21x, TagInfo
    from drivers.url import ReaderURL

NO_READER_HINT = (
    "no hardware reader found, only the emulated mock: one. Try it with "
    "--reader 'mock:desk?tag=ntag213'. A USB reader that is plugged in but not listed may "
    "be claimed by the kernel's pn533/port100 modules "
    "(install systemd/modprobe blacklist, then unplug and replug it), or pcscd may not run."
)


@contextmanager
def tag_on_reader(app: AppContext, url: ReaderURL, timeout: float | None) -> Iterator[Ntag21x]:
    """Open the reader, wait for a tag, yield the tag layer on it; always close."""
    from drivers import open_reader
    from drivers.ntag import Ntag21x

    if timeout is None:
        timeout = app.settings.provisioning.tag_timeout
    with open_reader(url) as reader:
        yield Ntag21x(reader, wait_saying(reader, timeout))


def wait_saying(reader: Reader, timeout: float) -> Target:
    """The tag on *reader*; when none is there yet, say so once and wait up to *timeout*."""
    from drivers.errors import NoTag

    try:
        return reader.wait_for_tag(0)
    except NoTag:
        click.echo(f"put the tag on {reader.url} (waiting up to {timeout:g} s)", err=True)
    return reader.wait_for_tag(timeout)


@click.command()
@json_option
def readers(as_json: bool) -> None:
    """List attached readers with the URL to use."""
    from drivers import detect_readers

    found = detect_readers()
    if as_json:
        emit([{"url": r.url, "description": r.description} for r in found], True)
        return
    for r in found:
        click.echo(f"{r.url}\t{r.description}")
    only_mock = all(r.url.startswith("mock:") for r in found)
    if only_mock:
        click.echo(NO_READER_HINT, err=True)


@click.group()
def tag() -> None:
    """Read, write and lock a tag on a reader."""


def render_info(info: TagInfo) -> str:
    d = info.to_dict()
    lock = d["lock"]
    lines = [
        f"uid        {d['uid']}",
        f"product    {d['product']} (GET_VERSION {d['version']})",
        f"genuine    {'yes' if d['genuine'] else 'NO'} (signature: {d['signature']['verdict']})",
        f"capacity   {d['capacity']} bytes of NDEF",
        f"lock       {lock['level']} (CC {lock['cc']}, static {lock['static_lock']}, "
        f"dynamic {lock['dynamic_lock'] or 'none'}, CFGLCK {'on' if lock['cfglck'] else 'off'})",
    ]
    if d["counter"] is not None:
        lines.append(f"counter    {d['counter']}")
    ndef_info = d["ndef"]
    if not ndef_info["formatted"]:
        lines.append("ndef       not NDEF formatted")
    elif ndef_info["error"]:
        lines.append(f"ndef       unreadable: {ndef_info['error']}")
    elif not ndef_info["records"]:
        lines.append("ndef       empty")
    for i, record in enumerate(ndef_info["records"], 1):
        body = record.get("uri") or record.get("text") or record.get("data", "")
        lang = f" [{record['language']}]" if "language" in record else ""
        lines.append(f"record {i}   {record['type']}{lang}: {body}")
    return "\n".join(lines)


@tag.command("info", short_help="Show a tag: chip, lock state, genuine, NDEF.")
@reader_option
@timeout_option
@json_option
@pass_app
def tag_info(app: AppContext, reader_url: ReaderURL, timeout: float | None, as_json: bool) -> None:
    """Show a tag: UID, chip, capacity, lock state, genuine or not, NDEF records, counter."""
    with tag_on_reader(app, reader_url, timeout) as ntag:
        info = ntag.info()
    emit(info.to_dict(), as_json, render_info(info))


@tag.command("write", short_help="Write one URI or Text record to a tag.")
@reader_option
@timeout_option
@click.option("--uri", help="Write one URI record.")
@click.option("--text", help="Write one Text record.")
@click.option("--lang", default="sv", show_default=True, help="Language of --text.")
@json_option
@pass_app
def tag_write(
    app: AppContext,
    reader_url: ReaderURL,
    timeout: float | None,
    uri: str | None,
    text: str | None,
    lang: str,
    as_json: bool,
) -> None:
    """Write an NDEF message (one URI or Text record); refuses locked tags and messages
    too large for the tag before writing anything."""
    import ndef

    if (uri is None) == (text is None):
        raise click.UsageError("give exactly one of --uri or --text")
    from provisioning.identity import refuse_personnummer

    refuse_personnummer(uri or text, "the record to write")  # readable by any phone
    record = ndef.UriRecord(uri) if uri is not None else ndef.TextRecord(text, lang)
    message = b"".join(ndef.message_encoder([record]))
    with tag_on_reader(app, reader_url, timeout) as ntag:
        pages = ntag.write_ndef(message)
    result = {"uid": ntag.uid_hex, "bytes": len(message), "pages_written": pages}
    emit(result, as_json, f"wrote {len(message)} bytes to {ntag.uid_hex} ({pages} pages)")


@tag.command("lock", short_help="Lock a tag permanently (needs --yes).")
@reader_option
@timeout_option
@click.option("--yes", is_flag=True, help="Confirm: locking is permanent and irreversible.")
@click.option("--expect-uid", type=UID, help="Lock only if the tag has this UID.")
@json_option
@pass_app
def tag_lock(
    app: AppContext,
    reader_url: ReaderURL,
    timeout: float | None,
    yes: bool,
    expect_uid: bytes | None,
    as_json: bool,
) -> None:
    """Permanently lock a tag: NDEF read-only, lock bits and configuration frozen forever.

    The NDEF message on the tag must be valid; it is checked before anything is written and
    read back after a re-select."""
    if not yes:
        which = f"tag {expect_uid.hex().upper()}" if expect_uid else "the next tag presented"
        raise ConfirmationRequired(
            f"locking is permanent and irreversible: {which} on {reader_url} would have its "
            "NDEF message, lock bits and configuration made read-only forever; "
            "nothing was done. Re-run with --yes (and --expect-uid UID)"
        )
    from drivers.errors import UidMismatch

    with tag_on_reader(app, reader_url, timeout) as ntag:
        if expect_uid is not None and ntag.uid != expect_uid:
            raise UidMismatch(expected=expect_uid, actual=ntag.uid)
        state = ntag.lock_permanently()
    result = {"uid": ntag.uid_hex, "lock": state.to_dict()}
    emit(result, as_json, f"locked {ntag.uid_hex} permanently ({state.level.value}, verified)")


@tag.command("check", short_help="Spot check a door's tag against the registry.")
@reader_option
@timeout_option
@click.option(
    "--customer",
    "customer_ref",
    help="The customer whose door this is (psn:... or ext:...): the tag must be theirs.",
)
@personnummer_option
@json_option
@pass_app
def tag_check(
    app: AppContext,
    reader_url: ReaderURL,
    timeout: float | None,
    customer_ref: str | None,
    personnummer: str | None,
    as_json: bool,
) -> None:
    """Spot check a tag on a door against the registry; the result goes in the audit trail.

    Checks: known UID, active (attached), attached to --customer, an NXP NTAG21x, genuine
    originality signature, locked permanently (CC, static and dynamic lock bits, CFGLCK),
    NDEF content as written at provisioning. Nothing is written to the tag. Exit 0 when
    every check passes, 10 when one fails (named on stderr); a tag that could not be read
    (5, 6) is not recorded."""
    from nfcbridge.cli.registry_access import named_customer, open_registry
    from nfcbridge.errors import SpotCheckFailed
    from provisioning.batch_token import BatchSettings
    from provisioning.spot_check import read_chip, spot_check

    settings = BatchSettings.from_settings(app.settings.provisioning)
    if customer_ref is not None or personnummer is not None:
        customer_ref = named_customer(app, customer_ref, personnummer)
    with open_registry(app) as reg:
        expected = reg.resolve_customer(customer_ref) if customer_ref is not None else None
        with tag_on_reader(app, reader_url, timeout) as ntag:
            reading = read_chip(ntag)
            on_mock = ntag.reader.url.scheme == "mock"
        result = spot_check(
            reg,
            reading,
            operator=app.operator,
            expected_customer=expected,
            settings=settings,
            on_mock=on_mock,
        )
    lines = [f"tag {result.uid}: spot check {result.summary()}"]
    for check in result.checks:
        detail = f"  {check.detail}" if check.detail else ""
        lines.append(f"  {check.name:<10}{check.status}{detail}")
    lines.append(f"recorded in the audit trail (seq {result.audit_seq})")
    emit(result.as_dict(), as_json, "\n".join(lines))
    if not result.passed:
        raise SpotCheckFailed(f"tag {result.uid}: spot check {result.summary()}")
