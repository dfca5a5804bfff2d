"""values.schema.json makes Helm refuse bad values before anything renders."""

from __future__ import annotations

from typing import Any

import helm_python as helm
import pytest

from tests.chart.support import render

REFUSED: list[tuple[dict[str, Any], str]] = [
    ({"replicas": -1}, "/replicas"),
    ({"worker": {"pool": "gevent"}}, "/worker/pool"),
    ({"worker": {"concurrency": 0}}, "/worker/concurrency"),
    ({"worker": {"queues": []}}, "/worker/queues"),
    ({"metrics": {"port": 70000}}, "/metrics/port"),
    ({"secrets": {"apiKey": "sk-proj-0123456789abcdef"}}, "apiKey"),
    ({"secrets": {"password": "hunter2"}}, "password"),
    ({"secrets": {"redisUrl": "redis://:hunter2@redis:6379/0"}}, "redisUrl"),
    ({"secrets": {"redisUrlKey": "redis://:hunter2@redis:6379/0"}}, "/secrets/redisUrlKey"),
    ({"secrets": {"providerKeys": {"OPENAI_API_KEY": "sk-proj-0123456789"}}}, "OPENAI_API_KEY"),
    ({"autoscaling": {"keda": {"password": "hunter2"}}}, "password"),
    ({"settings": {"redis": {"url": "redis://:hunter2@redis:6379/0"}}}, "/settings/redis/url"),
    (
        {"settings": {"worker": {"broker_url": "amqp://u:p@rabbit//"}}},
        "/settings/worker/broker_url",
    ),
    ({"settings": {"llm": {"api_keys": {"openai": "sk-x"}}}}, "/settings/llm/api_keys"),
    ({"settings": {"cache": {"redis_password": "hunter2"}}}, "redis_password"),
    ({"settings": {"nonsense": {}}}, "nonsense"),
    ({"unknownSwitch": True}, "unknownSwitch"),
]


@pytest.mark.parametrize(("values", "where"), REFUSED, ids=[w for _, w in REFUSED])
def test_bad_values_fail_to_render_with_a_schema_error(
    chart: helm.Chart, values: dict[str, Any], where: str
) -> None:
    with pytest.raises(helm.HelmValuesError, match="schema") as caught:
        render(chart, values)
    assert where in str(caught.value)


def test_secret_references_and_harmless_settings_are_accepted(chart: helm.Chart) -> None:
    values = {
        "secrets": {"existingSecret": "prod-llm", "providerKeys": {"OPENAI_API_KEY": "openai"}},
        "settings": {"cache": {"ttl_s": 60}, "llm": {"base_urls": {"vllm": "http://vllm:8000/v1"}}},
    }
    chart.validate_schema(chart.merge_values(values))
    assert render(chart, values)
