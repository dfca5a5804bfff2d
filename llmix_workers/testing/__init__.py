"""What tests of code built on llmix_workers need, shipped with the package (the ``testing``
extra declares what it imports; the pytest plugin, :mod:`.plugin`, exposes fixtures for most).

- Doubles: :mod:`.stub` (the stub LLM provider, a real HTTP server), :mod:`.fake_client`
  (a scripted in-process client), :mod:`.clock` (a hand-cranked clock), :mod:`.relay` (a TCP link
  that can be cut like a dropped network path).
- Private servers, one start/stop shape (:mod:`.server`): :mod:`.redis_server`
  (``PrivateRedis``), :mod:`.redis_cluster`, :mod:`.redis_sentinel`, :mod:`.rabbitmq`
  (a virtual host of the machine's RabbitMQ), :mod:`.prometheus` (the real Prometheus, with
  :mod:`.promql` to check dashboards and alert rules against it).
- Fleets: :mod:`.local_fleet` (real worker processes), :mod:`.topology` (the matrix of
  topologies a fleet can run on).
- Contracts: :mod:`.l2_contract` (``L2BackendContract``: the tests any L2 backend must pass).
- Waiting: :mod:`.waiting` (``eventually``: a condition and a deadline, never a fixed sleep).

This repository's own tools live elsewhere (``docgen.reliability`` writes the reliability page
from the fault suite); the demo (``llmix-workers demo``) uses :mod:`.local_fleet` as users do.
"""
