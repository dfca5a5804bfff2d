"""The one place that wires a process from :class:`~llmix_workers.settings.Settings`.

The worker (:func:`~llmix_workers.wiring.worker.wire_worker`), the producer and the CLI build
their parts here: Redis clients by role through the one door (:mod:`.redis`), the cache and its
backend (:mod:`.cache`), the fleet seat and control (:mod:`.fleet`), telemetry attached once
through :class:`~llmix_workers.wiring.hooks.Hooks`. Constructors take what they need; nothing
is set on a part after it is built.
"""
