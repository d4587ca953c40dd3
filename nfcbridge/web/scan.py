"""Reading the UID of the tag on the desk's reader, for the pages that scan a tag."""

from __future__ import annotations

from flask import flash

from nfcbridge.web.app import state
from nfcbridge.web.i18n import gettext as _


def scan_uid(timeout: float = 10.0) -> str | None:
    """The UID of the tag on the desk's reader, or None (with a message) when there is none."""
    from drivers import open_reader
    from drivers.errors import NoTag, ReaderError

    try:
        with open_reader(state().settings.web.desk_reader) as reader:
            return reader.wait_for_tag(timeout).uid_hex
    except NoTag:
        flash(_("No tag on the reader: put the tag on the reader and try again."), "error")
    except ReaderError as exc:
        flash(_("The reader cannot be used: %(error)s", error=str(exc).splitlines()[0]), "error")
    return None
