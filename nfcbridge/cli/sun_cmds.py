"""`nfcbridge sun verify`: check a SUN URL of an NTAG 424 DNA where the keys are.

Prints uid, counter, valid, tamper (when mirrored) and file_data; exit 10 when the
SDMMAC does not verify or the URL is not a readable SUN message, 3 for a bad key file.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from nfcbridge.cli.context import AppContext, emit, json_option, pass_app
from nfcbridge.cli.params import reader_option, timeout_option
from nfcbridge.errors import VerificationFailed

if TYPE_CHECKING:
    from drivers.url import ReaderURL


@click.group("sun")
def sun_group() -> None:
    """Secure Unique NFC messages of NTAG 424 DNA tags."""


@sun_group.command("verify", short_help="Check the SUN message in a tag's URL.")
@click.argument("url")
@click.option("--meta-key-file", required=True, help="SDMMetaReadKey: file of 32 hex digits.")
@click.option("--file-key-file", required=True, help="SDMFileReadKey: file of 32 hex digits.")
@click.option(
    "--picc-param",
    default="picc_data",
    show_default=True,
    help="URL parameter holding the encrypted PICC data (UID and counter).",
)
@click.option(
    "--enc-param",
    default="enc",
    show_default=True,
    help="URL parameter holding the encrypted file data, if the tag mirrors any.",
)
@click.option(
    "--mac-param", default="cmac", show_default=True, help="URL parameter holding the SDMMAC."
)
@click.option("--uid-param", default=None, help="Plain UID mirror (with --ctr-param).")
@click.option("--ctr-param", default=None, help="Plain counter mirror (with --uid-param).")
@click.option(
    "--tamper-in-file-data",
    is_flag=True,
    help="TagTamper: the tamper status is the first two letters of the file data.",
)
@json_option
def sun_verify(
    url: str,
    meta_key_file: str,
    file_key_file: str,
    picc_param: str,
    enc_param: str,
    mac_param: str,
    uid_param: str | None,
    ctr_param: str | None,
    tamper_in_file_data: bool,
    as_json: bool,
) -> None:
    """Verify the SUN message in URL (exit 10 when its MAC does not verify)."""
    from drivers import sun
    from nfcbridge.sun_keys import read_aes_key

    if bool(uid_param) != bool(ctr_param):
        raise click.UsageError("--uid-param and --ctr-param go together")
    meta_key = read_aes_key(meta_key_file, option="--meta-key-file")
    file_key = read_aes_key(file_key_file, option="--file-key-file")
    params = sun.SunParams(
        picc=None if uid_param else picc_param,
        enc=enc_param,
        mac=mac_param,
        uid=uid_param,
        ctr=ctr_param,
        tamper_in_file_data=tamper_in_file_data,
    )
    try:
        result = sun.verify_url(url, meta_key, file_key, params)
    except sun.SunError as exc:
        raise VerificationFailed(f"not a readable SUN message: {exc}") from None
    emit(result.as_dict(), as_json)
    if not result.valid:
        raise VerificationFailed("SUN message MAC does not verify")


@sun_group.command("provision", short_help="Provision a factory-fresh NTAG 424 DNA.")
@reader_option
@click.option(
    "--master-key-file",
    required=True,
    help="Master key (32 hex digits), a file or credential:NAME; per-tag keys derive from it.",
)
@click.option(
    "--key-version",
    type=click.IntRange(0, 255),
    default=1,
    show_default=True,
    help="Version of the master key the tag's keys are diversified from (for rotation).",
)
@click.option("--base-url", required=True, help="URL the tag opens; SUN parameters are added.")
@click.option("--batch", required=True, help="Batch name (created if new).")
@click.option(
    "--accept-test-signature",
    is_flag=True,
    help="Accept chips signed with the emulator's test key (emulated readers; mock: always).",
)
@timeout_option
@json_option
@pass_app
def sun_provision(
    app: AppContext,
    reader_url: ReaderURL,
    master_key_file: str,
    key_version: int,
    base_url: str,
    batch: str,
    accept_test_signature: bool,
    timeout: float | None,
    as_json: bool,
) -> None:
    """Provision one factory-fresh NTAG 424 DNA (or TagTamper) as a SUN tag.

    A tag whose factory key is already changed is refused (exit 6).
    """
    from drivers import open_reader
    from nfcbridge.cli.registry_access import open_registry
    from nfcbridge.sun_keys import read_aes_key
    from provisioning.sun_provision import provision_sun_tag

    if not base_url.startswith(("https://", "http://")):
        raise click.BadParameter("must start with https:// or http://", param_hint="--base-url")
    master_key = read_aes_key(master_key_file, option="--master-key-file")
    if timeout is None:
        timeout = app.settings.provisioning.tag_timeout
    with open_registry(app) as registry, open_reader(reader_url) as reader:
        reader.wait_for_tag(timeout)
        done = provision_sun_tag(
            reader,
            registry,
            master_key=master_key,
            key_version=key_version,
            base_url=base_url,
            batch=batch,
            operator=app.operator,
            accept_test_signature=accept_test_signature,
        )
    emit(
        {
            "uid": done.record.uid,
            "product": done.product,
            "state": done.record.state,
            "key_version": key_version,
            "template_url": done.chip.template_url,
            "first_counter": done.chip.first_counter,
            "commands": done.chip.commands,
            "signature": done.chip.signature,
        },
        as_json,
    )


COMMANDS: list[click.Command] = [sun_group]
