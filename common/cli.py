"""The one way every command line of the project (``registry-bridge``, ``registry-consumer``)
turns a configuration error into an exit: one line on stderr, naming the variable, and
status 2. No traceback. Likewise a :class:`StartupError` (something outside the process
keeps it from starting, such as a database that refuses it): one line, status 1.

Settings are parsed once, at start-up, into frozen dataclasses; whatever raises
:class:`~common.environ.ConfigError` on the way (a malformed ``REGBRIDGE_*`` variable, a
subscription file, a certificate that cannot be loaded) ends up here.
"""

from __future__ import annotations

from typing import Any

import click

from common.environ import ConfigError

CONFIG_ERROR_EXIT = 2
STARTUP_ERROR_EXIT = 1


class StartupError(Exception):
    """The process cannot start for a reason outside it; the message is one line saying what
    to fix. Raised once whatever the process owns is closed."""


def config_error_exit(program: str, error: ConfigError) -> click.exceptions.Exit:
    click.echo(f"{program}: configuration error: {error}", err=True)
    return click.exceptions.Exit(CONFIG_ERROR_EXIT)


class Program(click.Group):
    """A click group (``@click.group(cls=Program)``) whose commands, however deep, exit 2
    with one line on a :class:`ConfigError`, and 1 with one line on a :class:`StartupError`."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ConfigError as exc:
            raise config_error_exit(ctx.find_root().command.name or "", exc) from None
        except StartupError as exc:
            click.echo(f"{ctx.find_root().command.name or ''}: {exc}", err=True)
            raise click.exceptions.Exit(STARTUP_ERROR_EXIT) from None
