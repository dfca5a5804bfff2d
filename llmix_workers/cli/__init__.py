"""``llmix-workers``: the command line. User mistakes print one line and exit non-zero."""

from llmix_workers.cli.cache import cache_group
from llmix_workers.cli.demo import demo
from llmix_workers.cli.enqueue import enqueue
from llmix_workers.cli.group import main
from llmix_workers.cli.stub import stub_provider
from llmix_workers.cli.worker import worker

for _command in (worker, enqueue, cache_group, demo, stub_provider):
    main.add_command(_command)

__all__ = ["main"]
