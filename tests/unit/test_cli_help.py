"""Every command's ``--help``: each option explains itself and no description is cut off."""

from __future__ import annotations

from collections.abc import Iterator

import click
from click.testing import CliRunner

from nfcbridge.cli.main import cli


def commands(
    group: click.Command = cli, path: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], click.Command]]:
    yield path, group
    if isinstance(group, click.Group):
        for name, sub in sorted(group.commands.items()):
            yield from commands(sub, (*path, name))


def test_every_option_of_every_command_has_help_text():
    missing = [
        f"nfcbridge {' '.join(path)} {option.opts[0]}"
        for path, command in commands()
        for option in command.params
        if isinstance(option, click.Option) and not option.hidden and not (option.help or "")
    ]
    assert missing == []


def test_no_command_description_is_cut_mid_sentence():
    cut = []
    for path, command in commands():
        result = CliRunner().invoke(cli, [*path, "--help"], terminal_width=80)
        assert result.exit_code == 0, (path, result.output)
        listing = result.output.split("Commands:", 1)
        if len(listing) == 2:
            cut += [f"{' '.join(path)}: {ln.strip()}" for ln in listing[1].splitlines()
                    if ln.rstrip().endswith("...")]  # fmt: skip
        if not (command.help or "").strip():
            cut.append(f"{' '.join(path) or 'nfcbridge'}: no description")
    assert cut == []
