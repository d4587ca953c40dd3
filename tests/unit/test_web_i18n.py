"""Every message the web app shows has a Swedish translation in the catalogue."""

from __future__ import annotations

import re
from pathlib import Path

from babel.messages.pofile import read_po

from nfcbridge.web import i18n

WEB = Path(i18n.__file__).parent
_CALL = re.compile(r"""\b_\(\s*(?:"((?:[^"\\]|\\.)*)"|'((?:[^'\\]|\\.)*)')""")


def used_messages() -> set[str]:
    found: set[str] = set()
    for path in WEB.rglob("*"):
        if path.suffix in (".py", ".html"):
            for match in _CALL.finditer(path.read_text(encoding="utf-8")):
                found.add(next(g for g in match.groups() if g is not None))
    return found | set(i18n.DYNAMIC)


def test_every_message_has_a_swedish_translation() -> None:
    with (WEB / "translations" / "sv.po").open("rb") as fh:
        catalogue = read_po(fh, locale="sv")
    translated = {m.id: m.string for m in catalogue if m.id}
    used = used_messages()
    assert len(used) > 100  # the extraction found the templates' messages
    missing = sorted(m for m in used if not translated.get(m))
    assert not missing, f"no Swedish for: {missing}"


def test_placeholders_survive_translation() -> None:
    with (WEB / "translations" / "sv.po").open("rb") as fh:
        catalogue = read_po(fh, locale="sv")
    names = re.compile(r"%\((\w+)\)s")
    wrong = [
        m.id for m in catalogue if m.id and set(names.findall(m.id)) != set(names.findall(m.string))
    ]
    assert not wrong
