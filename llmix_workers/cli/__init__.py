"""``llmix-workers``: the command line. User mistakes print one line and exit non-zero."""

from importlib.metadata import version

import click

from llmix_workers.cli.cache import cache_group
from llmix_workers.cli.demo import demo
from llmix_workers.cli.enqueue import enqueue
from llmix_workers.cli.fleet import workers
from llmix_workers.cli.group import main
from llmix_workers.cli.jobs import purge, results, revoke
from llmix_workers.cli.show import show_settings
from llmix_workers.cli.stub import stub_provider
from llmix_workers.cli.worker import worker

for _command in (worker, enqueue, results, revoke, purge, workers, cache_group, show_settings,
                 demo, stub_provider):  # fmt: skip
    main.add_command(_command)


def _with_version(command: click.Command) -> None:
    """``--version`` on ``command`` and every subcommand of it."""
    click.version_option(version("llmix_workers"), prog_name="llmix-workers")(command)
    if isinstance(command, click.Group):
        for sub in command.commands.values():
            _with_version(sub)


_with_version(main)

__all__ = ["main"]
