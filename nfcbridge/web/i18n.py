"""Message catalogues: English message ids in code and templates, Swedish in ``sv.po``.

The catalogues are read with Babel at start-up (no compile step in the build); the language
of a request is the session's choice, else the configured default.
"""

from __future__ import annotations

import gettext as _gettext
import io
from functools import cache
from pathlib import Path

from flask import g

LANGUAGES = ("sv", "en")
CATALOGUES = Path(__file__).parent / "translations"


@cache
def translations(language: str) -> _gettext.NullTranslations:
    if language == "en":
        return _gettext.NullTranslations()
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po
    from babel.support import Translations

    with (CATALOGUES / f"{language}.po").open("rb") as fh:
        catalogue = read_po(fh, locale=language)
    buffer = io.BytesIO()
    write_mo(buffer, catalogue)
    buffer.seek(0)
    return Translations(fp=buffer)


def gettext(message: str, **values: object) -> str:
    language = getattr(g, "language", "sv") if g else "sv"
    text = translations(language).gettext(message)
    return text % values if values else text


def ngettext(singular: str, plural: str, n: int, **values: object) -> str:
    language = getattr(g, "language", "sv") if g else "sv"
    text = translations(language).ngettext(singular, plural, n)
    return text % {"num": n, **values}


# Message ids that reach ``_()`` as data, not as literals: tag states, batch outcomes and
# audit actions. The catalogue test checks each has a translation.
DYNAMIC = (
    "in_stock", "issued", "active", "spoiled", "retired",
    "provisioned", "refused", "retry", "checked",
    "tag.provisioned", "tag.issued", "tag.attached", "tag.retired", "tag.spoiled",
    "tag.attempt_failed", "tag.provider_changed",
    "desk", "coordinator", "admin",
    "died", "moved_away", "care_home", "declined", "other",
    "private", "municipal", "tag.kept_for_cohabitant",
)  # fmt: skip
