"""Test rig commands: rig (scenarios, replay, inject) and receiver."""

from __future__ import annotations

import click

COMMANDS: list[click.Command] = []
