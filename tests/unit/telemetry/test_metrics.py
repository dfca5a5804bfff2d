from __future__ import annotations

import threading

import pytest
from prometheus_client import CollectorRegistry

from llmix_workers.llm.breaker import BreakerState
from llmix_workers.settings import TelemetrySettings
from llmix_workers.telemetry.metrics import Metrics


def value(registry: CollectorRegistry, name: str, **labels: str) -> float | None:
    return registry.get_sample_value(name, labels)


def test_lookups_count_by_outcome(metrics: Metrics, registry: CollectorRegistry) -> None:
    metrics.lookup("l1_hit")
    metrics.lookup("l1_hit")
    metrics.lookup("miss")
    assert value(registry, "llmix_cache_lookups_total", outcome="l1_hit") == 2
    assert value(registry, "llmix_cache_lookups_total", outcome="l2_hit") == 0
    assert value(registry, "llmix_cache_lookups_total", outcome="miss") == 1


def test_unknown_label_value_is_refused(metrics: Metrics) -> None:
    with pytest.raises(ValueError, match="outcome='l3_hit'"):
        metrics.lookup("l3_hit")
    with pytest.raises(ValueError, match="status_class='418'"):
        metrics.llm_error("openai", "418")
    with pytest.raises(ValueError, match="scope, result"):
        metrics.clear("everything", "ok")
    with pytest.raises(ValueError, match="kind"):
        metrics.single_flight_wait("redis")


def test_completion_counts_and_observes_latency_by_cache_outcome(
    metrics: Metrics, registry: CollectorRegistry
) -> None:
    metrics.completion("openai", "gpt-4o", "ok", "l1_hit", 0.0003)
    metrics.completion("openai", "gpt-4o", "error", "miss", 3.0)
    labels = {"provider": "openai", "model": "gpt-4o"}
    assert value(registry, "llmix_completions_total", outcome="ok", **labels) == 1
    assert value(registry, "llmix_completions_total", outcome="error", **labels) == 1
    hist = "llmix_completion_duration_seconds"
    assert value(registry, f"{hist}_bucket", cache="l1_hit", le="0.0005") == 1
    assert value(registry, f"{hist}_bucket", cache="miss", le="2.5") == 0
    assert value(registry, f"{hist}_bucket", cache="miss", le="5.0") == 1
    assert value(registry, f"{hist}_sum", cache="miss") == 3.0


def test_buckets_are_the_catalogue_ones(metrics: Metrics, registry: CollectorRegistry) -> None:
    metrics.llm_call("anthropic", "claude", 200.0)
    bounds = [
        sample.labels["le"]
        for family in registry.collect()
        if family.name == "llmix_llm_call_duration_seconds"
        for sample in family.samples
        if sample.name.endswith("_bucket")
    ]
    assert bounds == [
        *"0.0005 0.001 0.0025 0.005 0.01 0.025 0.05 0.1 0.25 0.5".split(),
        *"1.0 2.5 5.0 10.0 30.0 60.0 120.0 +Inf".split(),
    ]
    inf = {"provider": "anthropic", "model": "claude", "le": "+Inf"}
    assert value(registry, "llmix_llm_call_duration_seconds_bucket", **inf) == 1


def test_tokens_and_saved_tokens_with_cost(metrics: Metrics, registry: CollectorRegistry) -> None:
    metrics.tokens("openai", "gpt-4o", 1000, 200)
    usd = metrics.tokens_saved("openai", "gpt-4o", 400_000, 100_000)
    labels = {"provider": "openai", "model": "gpt-4o"}
    assert value(registry, "llmix_tokens_total", direction="input", **labels) == 1000
    assert value(registry, "llmix_tokens_total", direction="output", **labels) == 200
    assert value(registry, "llmix_tokens_saved_total", direction="input", **labels) == 400_000
    assert value(registry, "llmix_tokens_saved_total", direction="output", **labels) == 100_000
    assert usd == pytest.approx(0.4 * 2.5 + 0.1 * 10.0)
    assert value(registry, "llmix_cost_saved_usd_total", **labels) == pytest.approx(2.0)


def test_unpriced_model_saves_tokens_but_no_dollars(
    metrics: Metrics, registry: CollectorRegistry
) -> None:
    assert metrics.tokens_saved("openai", "unpriced", 10, 10) == 0.0
    labels = {"provider": "openai", "model": "unpriced"}
    assert value(registry, "llmix_tokens_saved_total", direction="input", **labels) == 10
    assert value(registry, "llmix_cost_saved_usd_total", **labels) == 0


def test_models_past_the_bound_become_other(metrics: Metrics, registry: CollectorRegistry) -> None:
    for model in ("m1", "m2", "m3", "m4", "m5", "m1"):
        metrics.llm_call("p", model, 1.0)
    series = "llmix_llm_call_duration_seconds_count"
    assert value(registry, series, provider="p", model="m1") == 2
    assert value(registry, series, provider="p", model="m3") == 1
    assert value(registry, series, provider="p", model="m4") is None
    assert value(registry, series, provider="p", model="other") == 2
    assert metrics.model_label("m5") == "other"
    assert metrics.model_label("m2") == "m2"


def test_price_of_a_model_counted_as_other_still_applies(registry: CollectorRegistry) -> None:
    from tests.unit.telemetry.support import PRICES

    metrics = Metrics(registry, max_models=1, prices=PRICES)
    metrics.tokens("p", "first", 1, 1)
    metrics.tokens_saved("p", "gpt-4o", 1_000_000, 0)
    assert value(registry, "llmix_cost_saved_usd_total", provider="p", model="other") == 2.5


def test_model_bound_holds_under_concurrent_first_use(registry: CollectorRegistry) -> None:
    metrics = Metrics(registry, max_models=5)
    barrier = threading.Barrier(8)

    def worker(thread: int) -> None:
        barrier.wait()
        for index in range(50):
            metrics.completion("p", f"model-{thread}-{index}", "ok", "miss", 0.1)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    family = next(f for f in registry.collect() if f.name == "llmix_completions")
    per_model: dict[str, float] = {}
    for sample in family.samples:
        if sample.name == "llmix_completions_total" and sample.labels["outcome"] == "ok":
            per_model[sample.labels["model"]] = sample.value
    assert len(per_model) == 6
    assert per_model["other"] == 400 - 5
    assert sum(per_model.values()) == 400


def test_provider_series(metrics: Metrics, registry: CollectorRegistry) -> None:
    metrics.llm_error("openai", "5xx")
    metrics.llm_error("openai", "5xx")
    metrics.retry("openai")
    metrics.requeue("anthropic")
    assert value(registry, "llmix_llm_errors_total", provider="openai", status_class="5xx") == 2
    assert value(registry, "llmix_llm_errors_total", provider="openai", status_class="429") == 0
    assert value(registry, "llmix_llm_retries_total", provider="openai") == 1
    assert value(registry, "llmix_requeues_total", provider="anthropic") == 1


def test_breaker_state_takes_names_and_the_enum(
    metrics: Metrics, registry: CollectorRegistry
) -> None:
    metrics.breaker_state("openai", BreakerState.OPEN)
    assert value(registry, "llmix_circuit_breaker_state", provider="openai") == 2
    metrics.breaker_state("openai", "half_open")
    assert value(registry, "llmix_circuit_breaker_state", provider="openai") == 1
    metrics.breaker_state("openai", BreakerState.CLOSED)
    assert value(registry, "llmix_circuit_breaker_state", provider="openai") == 0
    with pytest.raises(ValueError, match="state"):
        metrics.breaker_state("openai", "AJAR")


def test_cache_and_fleet_series(metrics: Metrics, registry: CollectorRegistry) -> None:
    metrics.l2_error("set")
    metrics.l2_healthy(False)
    metrics.l1_entries(42)
    metrics.l1_dropped(42)
    metrics.clear("local", "ok")
    metrics.clear("fleet", "incomplete")
    metrics.generation(9)
    metrics.blocked_read()
    metrics.single_flight_wait("in_process")
    metrics.lock_takeover()
    metrics.worker_process(True)
    assert value(registry, "llmix_l2_errors_total", operation="set") == 1
    assert value(registry, "llmix_l2_errors_total", operation="get") == 0
    assert value(registry, "llmix_l2_healthy") == 0
    assert value(registry, "llmix_l1_entries") == 42
    assert value(registry, "llmix_l1_dropped_entries_total") == 42
    assert value(registry, "llmix_cache_clears_total", scope="local", result="ok") == 1
    assert value(registry, "llmix_cache_clears_total", scope="fleet", result="incomplete") == 1
    assert value(registry, "llmix_cache_clears_total", scope="fleet", result="failed") == 0
    assert value(registry, "llmix_fleet_generation") == 9
    assert value(registry, "llmix_l2_blocked_reads_total") == 1
    assert value(registry, "llmix_single_flight_waits_total", kind="in_process") == 1
    assert value(registry, "llmix_fleet_lock_takeovers_total") == 1
    assert value(registry, "llmix_worker_processes") == 1
    metrics.worker_process(False)
    assert value(registry, "llmix_worker_processes") == 0


def test_from_settings_uses_the_bound_and_prices(registry: CollectorRegistry) -> None:
    section = TelemetrySettings.model_validate(
        {"max_model_labels": 1, "prices": {"m": {"input_per_million": 1, "output_per_million": 3}}}
    )
    metrics = Metrics.from_settings(section, registry)
    assert metrics.tokens_saved("p", "m", 1_000_000, 1_000_000) == 4.0
    assert metrics.model_label("n") == "other"


def test_second_metrics_on_one_registry_is_refused(registry: CollectorRegistry) -> None:
    Metrics.from_settings(TelemetrySettings(), registry)
    with pytest.raises(ValueError, match="Duplicated timeseries"):
        Metrics.from_settings(TelemetrySettings(), registry)


def test_negative_amounts_are_refused(metrics: Metrics) -> None:
    with pytest.raises(ValueError):
        metrics.tokens("p", "m", -1, 0)


def test_named_providers_have_every_series_at_zero_from_the_start(
    registry: CollectorRegistry,
) -> None:
    Metrics.from_settings(TelemetrySettings(), registry, providers=["openai", "anthropic"])
    for provider in ("openai", "anthropic"):
        for status in ("4xx", "429", "5xx", "timeout", "network", "circuit_open"):
            labels = {"provider": provider, "status_class": status}
            assert value(registry, "llmix_llm_errors_total", **labels) == 0
        assert value(registry, "llmix_llm_retries_total", provider=provider) == 0
        assert value(registry, "llmix_requeues_total", provider=provider) == 0
        assert value(registry, "llmix_circuit_breaker_state", provider=provider) == 0
    assert value(registry, "llmix_llm_retries_total", provider="together") is None


def test_a_hit_counts_its_completion_latency_and_savings_at_once(
    metrics: Metrics, registry: CollectorRegistry
) -> None:
    usd = metrics.shared_completion("openai", "gpt-4o", "l1_hit", 0.0004, "gpt-4o", 1000, 100)
    assert usd == pytest.approx((1000 * 2.5 + 100 * 10.0) / 1e6)
    labels = {"provider": "openai", "model": "gpt-4o"}
    assert value(registry, "llmix_completions_total", outcome="ok", **labels) == 1
    hist = "llmix_completion_duration_seconds"
    assert value(registry, f"{hist}_bucket", cache="l1_hit", le="0.0005") == 1
    assert value(registry, f"{hist}_sum", cache="l1_hit") == 0.0004
    assert value(registry, "llmix_tokens_saved_total", direction="input", **labels) == 1000
    assert value(registry, "llmix_tokens_saved_total", direction="output", **labels) == 100
    assert value(registry, "llmix_cost_saved_usd_total", **labels) == pytest.approx(usd)
    with pytest.raises(ValueError, match="cache='l3_hit'"):
        metrics.shared_completion("openai", "gpt-4o", "l3_hit", 0.1, "gpt-4o", 1, 1)


def test_hits_from_many_threads_add_up_exactly(registry: CollectorRegistry) -> None:
    metrics = Metrics.from_settings(TelemetrySettings(), registry)
    barrier = threading.Barrier(8)

    def worker() -> None:
        barrier.wait()
        for _ in range(2000):
            metrics.shared_completion("p", "m", "l1_hit", 0.001, "m", 3, 1)
            metrics.lookup("l1_hit")

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert (
        value(registry, "llmix_completions_total", provider="p", model="m", outcome="ok") == 16000
    )
    assert value(registry, "llmix_cache_lookups_total", outcome="l1_hit") == 16000
    assert value(registry, "llmix_completion_duration_seconds_count", cache="l1_hit") == 16000
    saved = value(registry, "llmix_tokens_saved_total", provider="p", model="m", direction="input")
    assert saved == 48000
