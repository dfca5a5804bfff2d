"""A private 3-primary Redis Cluster for the session, emptied around each test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from llmix_workers.errors import ConfigError
from llmix_workers.testing.redis_cluster import PrivateCluster


@pytest.fixture(scope="session")
def cluster() -> Iterator[PrivateCluster]:
    try:
        private = PrivateCluster(3).start()
    except ConfigError as exc:
        pytest.fail(f"these tests need redis-server and redis-cli with cluster support: {exc}")
    yield private
    private.close()


@pytest.fixture
def cluster_url(cluster: PrivateCluster) -> Iterator[str]:
    cluster.flush()
    yield cluster.url
