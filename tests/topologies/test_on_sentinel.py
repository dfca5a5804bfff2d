"""The fleet suite (:mod:`tests.topologies.fleet_suite`) on the sentinel topology."""

from tests.topologies.fleet_suite import *  # noqa: F403

TOPOLOGY = "sentinel"
