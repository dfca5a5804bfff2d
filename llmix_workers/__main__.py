"""``python -m llmix_workers`` is the ``llmix-workers`` command."""

from llmix_workers.cli import main

main()
