"""`nfcbridge sun verify`: check a SUN URL of an NTAG 424 DNA where the keys are.

Prints uid, counter, valid, tamper (when mirrored) and file_data; exit 10 when the
SDMMAC does not verify or the URL is not a readable SUN message, 3 for a bad key file.
"""

from __future__ import annotations

import click

from nfcbridge.cli.context import emit, json_option
from nfcbridge.errors import VerificationFailed


@click.group("sun")
def sun_group() -> None:
    """Secure Unique NFC messages of NTAG 424 DNA tags."""


@sun_group.command("verify")
@click.argument("url")
@click.option("--meta-key-file", required=True, help="SDMMetaReadKey: file of 32 hex digits.")
@click.option("--file-key-file", required=True, help="SDMFileReadKey: file of 32 hex digits.")
@click.option("--picc-param", default="picc_data", show_default=True)
@click.option("--enc-param", default="enc", show_default=True)
@click.option("--mac-param", default="cmac", show_default=True)
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


COMMANDS: list[click.Command] = [sun_group]
