"""Daemon commands: run, status, outbox."""

from __future__ import annotations

import click

COMMANDS: list[click.Command] = []
