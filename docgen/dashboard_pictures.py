"""A picture of each row of the Grafana dashboard, drawn from a real fleet's metrics.

``python -m docgen.dashboard_pictures`` (``make dashboard-pictures``, about three minutes)
starts a threads node and a prefork node (:class:`~llmix_workers.testing.local_fleet.LocalFleet`,
the stub provider, a cache Redis apart from the broker's), has a private Prometheus scrape them
every second, and runs a scripted workload of about two and a half minutes that moves the
panels: steady traffic with repeats, a final provider error, 429s retried inline and re-queued,
a shared slow call, a breaker that opens, the cache Redis frozen for 20 seconds, a fleet clear
and a cache-first rerun. Every panel target of ``dashboards/llmix-workers.json`` is then read
with ``query_range`` over the run and each dashboard row is drawn with matplotlib into
``docs/guides/dashboard/<row slug>.png``, panels placed by their ``gridPos``.

The queried series are also written to ``build/dashboard-series.json``;
``--replot build/dashboard-series.json`` draws the pictures again from it without a fleet.
Grafana's ``$__rate_interval`` is taken as :data:`RATE_INTERVAL` and ``$__range`` as the run.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import re
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from llmix_workers.producer import CompletionProducer
    from llmix_workers.testing.local_fleet import LocalFleet, LocalWorker
    from llmix_workers.testing.prometheus import PrivatePrometheus
    from llmix_workers.testing.redis_server import PrivateRedis

ROOT: Final = Path(__file__).resolve().parent.parent
DASHBOARD_JSON: Final = ROOT / "dashboards" / "llmix-workers.json"
PICTURES: Final = ROOT / "docs" / "guides" / "dashboard"
SERIES_JSON: Final = ROOT / "build" / "dashboard-series.json"

JOB: Final = "llmix-workers"
RATE_INTERVAL: Final = "10s"
STEP_S: Final = 2.0
RUN_S: Final = 150.0
TICK_S: Final = 1.5
#: Seconds of the pictures before the workload starts (time 0:00), with the fleet idle.
LEAD_S: Final = 6.0
PRICES: Final = {"gpt-4o-mini": {"input_per_million": 0.15, "output_per_million": 0.6}}
#: A fleet-wide budget the steady traffic stays well under (ten calls a second, five after two
#: 429s, a quarter of it per process while Redis is frozen); only the burst event goes over it.
BUDGETS: Final = {"openai": {"rpm": 600}}
#: New prompts sent at once by the burst event: six seconds of the budget.
BURST_JOBS: Final = 60
# The visibility timeout stays at its default: one shorter than a re-queue's countdown (up to
# the breaker's 30 s cool-down) has the Redis broker deliver the waiting message again, and again.
WORKER_ENV: Final = {
    "LLMIX_WORKER__PREFETCH_MULTIPLIER": "1",
    "LLMIX_LLM__MAX_INLINE_WAIT_S": "1.5",
    "LLMIX_LLM__TIMEOUT_S": "10",
    "LLMIX_TELEMETRY__PRICES": json.dumps(PRICES),
    "LLMIX_LLM__BUDGETS": json.dumps(BUDGETS),
}


def slug(title: str) -> str:
    """A row title as a file name stem: ``"Cache"`` -> ``"cache"``."""
    return re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")


@dataclass(frozen=True)
class Row:
    title: str
    panels: list[dict[str, Any]]

    @property
    def picture(self) -> str:
        return f"{slug(self.title)}.png"


def dashboard_rows(path: Path = DASHBOARD_JSON) -> list[Row]:
    """The dashboard's rows in order, each with its panels (collapsed rows' nested ones too)."""
    rows: list[Row] = []
    for panel in json.loads(path.read_text(encoding="utf-8"))["panels"]:
        if panel["type"] == "row":
            rows.append(Row(panel["title"], list(panel.get("panels", []))))
        elif rows:
            rows[-1].panels.append(panel)
        else:
            rows.append(Row("", [panel]))
    return rows


# -- the workload ---------------------------------------------------------------------------

Event = tuple[float, str]


def _request(prompt: str, model: str = "gpt-4o-mini") -> dict[str, Any]:
    provider = "anthropic" if model.startswith("claude") else "openai"
    return {"provider": provider, "model": model, "messages": [{"role": "user", "content": prompt}]}


class Workload:
    """Steady traffic with repeats on both nodes, and one scripted event at a time."""

    def __init__(
        self, fleet: LocalFleet, cache: PrivateRedis, nodes: list[LocalWorker], seed: int = 7
    ) -> None:
        from llmix_workers.producer import CompletionProducer

        self.fleet, self.cache, self.nodes = fleet, cache, nodes
        self.producer: CompletionProducer = CompletionProducer(fleet.settings())
        self.random = random.Random(seed)
        self.popular = [_request(f"popular question {i}") for i in range(16)]
        self.fresh = 0
        self.events: list[Event] = []
        self.start = 0.0

    def run(self, seconds: float = RUN_S) -> list[Event]:
        schedule: list[tuple[float, str, Callable[[], None]]] = [
            (20, "final 400", self._final_error),
            (30, "429 retried inline", self._inline_retry),
            (40, "429 re-queued", self._requeue),
            (50, "shared slow call", self._shared_call),
            (60, "3 x 503: breaker opens", self._open_breaker),
            (75, "cache Redis frozen", self.cache.pause),
            (95, "cache Redis back", self.cache.resume),
            (112, "fleet clear", self._fleet_clear),
            (128, "cache-first rerun", self._cache_first_rerun),
            (138, "burst over the budget", self._budget_burst),
        ]
        self.start = time.time()
        tick = 0
        try:
            while (now := time.time() - self.start) < seconds:
                while schedule and schedule[0][0] <= now:
                    _, label, action = schedule.pop(0)
                    self.events.append((time.time(), label))
                    print(f"{now:6.1f}s {label}", flush=True)
                    action()
                self._traffic(self.nodes[tick % len(self.nodes)])
                tick += 1
                time.sleep(max(0.0, self.start + tick * TICK_S - time.time()))
        finally:
            self.cache.resume()
            self.producer.close()
        return self.events

    def _batch(self, node: LocalWorker, requests: list[dict[str, Any]]) -> None:
        outcomes = self.producer.run_batch(
            requests, queue=node.name, timeout_s=60, cache_first=False
        )
        failed = [o.error for o in outcomes if not o.ok]
        if failed:
            print(f"  {node.name}: {len(failed)} failed: {failed[0]}", flush=True)

    def _traffic(self, node: LocalWorker) -> None:
        self.fresh += 1
        repeats = self.random.sample(self.popular, 3)
        self._batch(node, [*repeats, _request(f"fresh question {self.fresh} {time.time()}")])

    def _final_error(self) -> None:
        self._batch(self.nodes[0], [_request(f"final [[stub:400]] {time.time()}")])

    def _inline_retry(self) -> None:
        assert self.fleet.stub is not None
        self.fleet.stub.script(429)  # Retry-After 1 s: one inline retry
        self._batch(self.nodes[0], [_request(f"inline retry {time.time()}")])

    def _requeue(self) -> None:
        assert self.fleet.stub is not None
        self.fleet.stub.script({"status": 429, "retry_after": 2})  # past the 1.5 s inline wait
        self._batch(self.nodes[0], [_request(f"requeue {time.time()}")])

    def _shared_call(self) -> None:
        same = _request(f"shared [[stub:slow=1500]] {time.time()}")
        nodes = [self.nodes[0], self.nodes[0], self.nodes[1], self.nodes[1]]
        ids = [self.producer.submit(same, queue=node.name) for node in nodes]
        for task_id in ids:
            self.producer.app.AsyncResult(task_id).get(timeout=60)

    def _open_breaker(self) -> None:
        """Three 503s in a row open the threads node's Anthropic breaker; the job waits out the
        cool-down in the queue and is then the half-open probe that closes it. Not waited for
        (the traffic goes on), once the stub has played the three faults."""
        stub = self.fleet.stub
        assert stub is not None
        before = int(stub.calls()["by_model"].get("claude-x", 0))
        stub.script(503, 503, 503)
        self.producer.submit(
            _request(f"breaker {time.time()}", "claude-x"), queue=self.nodes[0].name
        )
        deadline = time.monotonic() + 20
        while stub.calls()["by_model"].get("claude-x", 0) < before + 3:
            if time.monotonic() > deadline:
                print("  the breaker job made fewer than 3 calls in 20 s", flush=True)
                break
            time.sleep(0.2)

    def _fleet_clear(self) -> None:
        from llmix_workers.wiring.fleet import build_fleet_control

        control = build_fleet_control(self.fleet.settings())
        try:
            result = control.clear(timeout_s=10)
            print(f"  clear complete: {result.complete}", flush=True)
        finally:
            control.close()

    def _budget_burst(self) -> None:
        """New prompts sent at once, half to each node: more than the budget grants in the
        inline wait, so some calls wait their turn and the rest are re-queued."""
        for node in self.nodes:
            burst = [_request(f"burst {n} {time.time()}") for n in range(BURST_JOBS // 2)]
            self.producer.start_batch(burst, queue=node.name, cache_first=False)

    def _cache_first_rerun(self) -> None:
        rerun = self.popular[:8]
        self._batch(self.nodes[1], rerun)  # cached again after the clear
        outcomes = self.producer.run_batch(rerun, timeout_s=60, cache_first=True)
        print(f"  cache-first rerun: {sum(o.ok for o in outcomes)} ok", flush=True)


@dataclass
class Run:
    """What the pictures are drawn from: every panel target's series, the run's events."""

    start: float
    end: float
    events: list[Event]
    #: panel id -> one entry per target: [(legend, [[time, value]...])...]
    series: dict[str, list[list[tuple[str, list[list[float]]]]]]


def run_fleet(rows: list[Row]) -> Run:
    """Start the fleet and Prometheus, run the workload, read every panel target."""
    from llmix_workers.testing.local_fleet import LocalFleet
    from llmix_workers.testing.prometheus import PrivatePrometheus
    from llmix_workers.testing.redis_server import PrivateRedis, free_port

    with PrivateRedis() as broker, PrivateRedis() as cache:
        fleet = LocalFleet(
            redis_url=cache.url,
            broker_url=broker.url,
            result_backend=broker.url,
            stub_latency_ms=120,
            worker_env=WORKER_ENV,
        )
        with fleet:
            threads = fleet.add_worker("dt", queues="dt", concurrency=4, metrics_port=free_port())
            prefork = fleet.add_worker(
                "dp", queues="dp", pool="prefork", concurrency=3, metrics_port=free_port()
            )
            targets = [f"127.0.0.1:{node.metrics_port}" for node in (threads, prefork)]
            with PrivatePrometheus(targets, job=JOB) as prometheus:
                prometheus.wait_for_targets_up()
                prometheus.wait_for_scrapes(3)
                begin = time.time()
                events = Workload(fleet, cache, [threads, prefork]).run()
                time.sleep(4)  # the last scrapes
                end = time.time()
                start = begin - LEAD_S
                return Run(start, end, events, read_series(prometheus, rows, start, end))


def read_series(
    prometheus: PrivatePrometheus, rows: list[Row], start: float, end: float
) -> dict[str, list[list[tuple[str, list[list[float]]]]]]:
    from llmix_workers.testing.promql import substitute

    whole = f"{math.ceil(end - start)}s"
    found: dict[str, list[list[tuple[str, list[list[float]]]]]] = {}
    for row in rows:
        for panel in row.panels:
            targets = []
            for target in panel.get("targets", []):
                expr = substitute(target["expr"], rate_interval=RATE_INTERVAL, range_=whole)
                result = prometheus.query_range(expr, start, end, STEP_S)
                legend = target.get("legendFormat") or ""
                targets.append(
                    [
                        (_legend(legend, s["metric"]), [[t, float(v)] for t, v in s["values"]])
                        for s in result
                    ]
                )
            found[str(panel["id"])] = targets
    return found


def _legend(template: str, labels: dict[str, str]) -> str:
    return re.sub(r"\{\{\s*(\w+)\s*\}\}", lambda m: labels.get(m.group(1), ""), template).strip()


# -- drawing --------------------------------------------------------------------------------

BACKGROUND: Final = "#111217"
PANEL: Final = "#181b1f"
BORDER: Final = "#2c3235"
TEXT: Final = "#ccccdc"
MUTED: Final = "#8e8e9a"
PALETTE: Final = ["#73bf69", "#f2cc0c", "#5794f2", "#ff9830", "#f2495c", "#b877d9",
                  "#70dbed", "#fade2a", "#ca95e5", "#ffb357"]  # fmt: skip
COLORS: Final = {"green": "#73bf69", "yellow": "#fade2a", "red": "#f2495c"}

WIDTH_IN: Final = 12.0
UNIT_IN: Final = 0.3  # one gridPos height unit
HEADER_IN: Final = 0.62
DPI: Final = 100


def _si(value: float) -> str:
    for factor, suffix in ((1e9, " B"), (1e6, " M"), (1e3, " K")):
        if abs(value) >= factor:
            return f"{value / factor:.3g}{suffix}"
    return f"{value:.3g}"


def format_value(value: float, unit: str | None) -> str:
    """``value`` as Grafana would show it in ``unit`` (the units the dashboard uses)."""
    if math.isnan(value):
        return "No data"
    if unit == "percentunit":
        return f"{value * 100:.3g}%"
    if unit == "ops":
        return f"{_si(value)} ops/s"
    if unit == "s":
        return f"{value * 1000:.3g} ms" if abs(value) < 1 else f"{value:.3g} s"
    if unit == "currencyUSD":
        return f"${value:.2f}" if abs(value) >= 1 else f"${value:.2g}"
    return _si(value)


def _clock(seconds: float) -> str:
    return f"{int(seconds) // 60}:{int(seconds) % 60:02d}"


def draw_rows(run: Run, rows: list[Row], out: Path = PICTURES) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for row in rows:
        path = out / row.picture
        figure = draw_row(run, row)
        save_png(figure, path)
        written.append(path)
    return written


def save_png(figure: Figure, path: Path) -> None:
    """``figure`` as a PNG of at most 256 colours: a third of the size, the same picture."""
    import io

    import matplotlib.pyplot as plt
    from PIL import Image

    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI, facecolor=BACKGROUND)
    plt.close(figure)
    with Image.open(buffer) as image:
        image.convert("RGB").quantize(256).save(path, optimize=True)


def draw_row(run: Run, row: Row) -> Figure:
    import matplotlib.pyplot as plt
    from matplotlib.patches import FancyBboxPatch

    top = min(p["gridPos"]["y"] for p in row.panels)
    bottom = max(p["gridPos"]["y"] + p["gridPos"]["h"] for p in row.panels)
    height = HEADER_IN + (bottom - top) * UNIT_IN + 0.1
    figure = plt.figure(figsize=(WIDTH_IN, height), facecolor=BACKGROUND)
    figure.text(0.1 / WIDTH_IN, 1 - 0.25 / height, f"⌄ {row.title}", color=TEXT, fontsize=13,
                fontweight="bold", va="center")  # fmt: skip
    marks = "   ".join(f"{i} {label}" for i, (_, label) in enumerate(run.events, 1))
    if any(panel["type"] != "stat" for panel in row.panels):
        figure.text(0.1 / WIDTH_IN, 1 - 0.5 / height, f"events: {marks}", color=MUTED,
                    fontsize=6.5, va="center")  # fmt: skip
    for panel in row.panels:
        grid = panel["gridPos"]
        gap = 0.06
        x0 = grid["x"] / 24 * WIDTH_IN + gap
        width = grid["w"] / 24 * WIDTH_IN - 2 * gap
        y_top = HEADER_IN + (grid["y"] - top) * UNIT_IN + gap
        h = grid["h"] * UNIT_IN - 2 * gap
        box = (x0 / WIDTH_IN, 1 - (y_top + h) / height, width / WIDTH_IN, h / height)
        figure.patches.append(
            FancyBboxPatch(
                box[:2],
                box[2],
                box[3],
                boxstyle="round,pad=0,rounding_size=0.004",
                transform=figure.transFigure,
                facecolor=PANEL,
                edgecolor=BORDER,
                linewidth=0.8,
            )  # fmt: skip
        )
        figure.text(box[0] + 0.08 / WIDTH_IN, box[1] + box[3] - 0.16 / height, panel["title"],
                    color=TEXT, fontsize=9, fontweight="bold", va="center")  # fmt: skip
        inner = (x0, y_top + 0.32, width, h - 0.32)
        draw_panel(figure, run, panel, inner, height)
    return figure


def _axes(figure: Figure, inches: tuple[float, float, float, float], height: float) -> Axes:
    """Axes at ``inches`` (left, top, width, height from the figure's top left corner)."""
    left, top, width, h = inches
    axes = figure.add_axes((left / WIDTH_IN, 1 - (top + h) / height, width / WIDTH_IN, h / height))
    axes.set_facecolor(PANEL)
    axes.set_zorder(2)  # above the panel's frame, a figure patch
    for side in axes.spines.values():
        side.set_visible(False)
    axes.tick_params(colors=MUTED, labelsize=7, length=0)
    return axes


def _targets(run: Run, panel: dict[str, Any]) -> list[tuple[str, list[float], list[float]]]:
    series = []
    for target in run.series.get(str(panel["id"]), []):
        for legend, points in target:
            times = [t - (run.start + LEAD_S) for t, _ in points]
            series.append((legend, times, [v for _, v in points]))
    return series


def draw_panel(
    figure: Figure,
    run: Run,
    panel: dict[str, Any],
    inches: tuple[float, float, float, float],
    height: float,
) -> None:
    kind = panel["type"]
    if kind == "stat":
        draw_stat(figure, run, panel, inches, height)
    elif kind == "state-timeline":
        draw_states(figure, run, panel, inches, height)
    else:
        draw_timeseries(figure, run, panel, inches, height)


def _time_axis(axes: Axes, run: Run) -> None:
    from matplotlib.ticker import FuncFormatter, MultipleLocator

    axes.set_xlim(-LEAD_S, run.end - run.start - LEAD_S)
    axes.xaxis.set_major_locator(MultipleLocator(30))
    axes.xaxis.set_major_formatter(FuncFormatter(lambda v, _: _clock(v) if v >= 0 else ""))
    for number, (at, _) in enumerate(run.events, 1):
        x = at - (run.start + LEAD_S)
        axes.axvline(x, color=MUTED, linewidth=0.6, linestyle=":", alpha=0.7, zorder=0)
        axes.text(x, 1.0, str(number), transform=axes.get_xaxis_transform(), color=MUTED,
                  fontsize=6, ha="center", va="bottom")  # fmt: skip


def draw_timeseries(
    figure: Figure,
    run: Run,
    panel: dict[str, Any],
    inches: tuple[float, float, float, float],
    height: float,
) -> None:
    from matplotlib.ticker import FuncFormatter, MaxNLocator

    unit = panel.get("fieldConfig", {}).get("defaults", {}).get("unit")
    everything = _targets(run, panel)
    # Series that stay at 0 (a provider or an error class nobody used) only fill the legend:
    # they are counted, not drawn, unless nothing else moves.
    series = [s for s in everything if any(v and not math.isnan(v) for v in s[2])]
    if not series:
        series = everything[:3]
    flat = len(everything) - len(series)
    entries = len(series) + (1 if flat else 0)
    legend_rows = math.ceil(entries / 3) if entries else 1
    left, top, width, h = inches
    axes = _axes(figure, (left + 0.7, top + 0.1, width - 0.85, h - 0.45 - 0.16 * legend_rows),
                 height)  # fmt: skip
    axes.grid(True, color=BORDER, linewidth=0.6)
    axes.set_axisbelow(True)
    for index, (legend, times, values) in enumerate(series):
        color = PALETTE[index % len(PALETTE)]
        axes.plot(times, values, color=color, linewidth=1.3, label=legend or panel["title"])
        axes.fill_between(times, values, color=color, alpha=0.08, linewidth=0)
    if flat:
        axes.plot([], [], color=MUTED, linewidth=0, label=f"(+{flat} series at 0, not drawn)")
    _time_axis(axes, run)
    axes.yaxis.set_major_locator(MaxNLocator(4))
    axes.yaxis.set_major_formatter(FuncFormatter(lambda v, _: format_value(v, unit)))
    values = [v for _, _, vs in series for v in vs if not math.isnan(v)]
    if values and min(values) >= 0:
        axes.set_ylim(bottom=0, top=max(values) * 1.1 or 1.0)
    if not series:
        axes.text(0.5, 0.5, "No data", color=MUTED, transform=axes.transAxes, ha="center")
        return
    axes.legend(loc="upper left", bbox_to_anchor=(-0.02, -0.1), ncol=3, frameon=False,
                fontsize=7, labelcolor=TEXT, handlelength=1.2, borderaxespad=0,
                columnspacing=1.2)  # fmt: skip


def draw_states(
    figure: Figure,
    run: Run,
    panel: dict[str, Any],
    inches: tuple[float, float, float, float],
    height: float,
) -> None:
    mappings: dict[str, dict[str, str]] = {}
    for mapping in panel.get("fieldConfig", {}).get("defaults", {}).get("mappings", []):
        mappings.update(mapping.get("options", {}))
    series = _targets(run, panel)
    steady = [s for s in series if len({v for v in s[2] if not math.isnan(v)}) <= 1]
    if len(series) > 3 and len(steady) < len(series):
        series = [s for s in series if s not in steady]
        states = {mappings.get(f"{v:g}", {}).get("text") for s in steady for v in s[2] if v == v}
        how = f"{states.pop()} throughout" if len(states) == 1 else "unchanged"
        series.append((f"+{len(steady)} {how}", [], []))
    left, top, width, h = inches
    axes = _axes(figure, (left + 1.25, top + 0.1, width - 1.4, h - 0.75), height)
    for index, (_name, times, values) in enumerate(series):
        y = len(series) - 1 - index
        for begin, end, value in _runs(times, values):
            state = mappings.get(f"{value:g}", {})
            color = COLORS.get(state.get("color", ""), PALETTE[2])
            axes.broken_barh([(begin, end - begin)], (y - 0.4, 0.8), color=color, alpha=0.85)
            if end - begin > 12:
                axes.text((begin + end) / 2, y, state.get("text", f"{value:g}"), color="#111217",
                          fontsize=7, ha="center", va="center")  # fmt: skip
    axes.set_yticks(range(len(series)), [s[0] for s in reversed(series)])
    axes.set_ylim(-0.6, max(len(series), 1) - 0.4)
    _time_axis(axes, run)
    for number, (key, state) in enumerate(sorted(mappings.items())):
        figure.text((left + 1.25 + number * 0.95) / WIDTH_IN, 1 - (top + h - 0.2) / height,
                    f"■ {state.get('text', key)}", color=COLORS.get(state.get("color", ""), TEXT),
                    fontsize=7, va="center")  # fmt: skip


def _runs(times: list[float], values: list[float]) -> Iterator[tuple[float, float, float]]:
    """Consecutive equal values as (start, end, value); NaN ends a run."""
    begin = 0
    for index in range(1, len(values) + 1):
        if index == len(values) or values[index] != values[begin]:
            if not math.isnan(values[begin]):
                end = times[index] if index < len(times) else times[-1] + STEP_S
                yield times[begin], end, values[begin]
            begin = index


def draw_stat(
    figure: Figure,
    run: Run,
    panel: dict[str, Any],
    inches: tuple[float, float, float, float],
    height: float,
) -> None:
    unit = panel.get("fieldConfig", {}).get("defaults", {}).get("unit")
    series = _targets(run, panel)
    left, top, width, h = inches
    axes = _axes(figure, (left + 0.1, top, width - 0.2, h - 0.1), height)
    axes.set_xticks([])
    axes.set_yticks([])
    if not series:
        axes.text(0.5, 0.5, "No data", color=MUTED, transform=axes.transAxes, ha="center")
        return
    _, times, values = series[0]
    last = next((v for v in reversed(values) if not math.isnan(v)), math.nan)
    axes.fill_between(times, values, color=COLORS["green"], alpha=0.18, linewidth=0)
    axes.plot(times, values, color=COLORS["green"], linewidth=1, alpha=0.6)
    finite = [v for v in values if not math.isnan(v)]
    if finite:
        axes.set_ylim(min(0.0, min(finite)), max(finite) * 1.6 or 1.0)
    axes.set_xlim(times[0], times[-1])
    axes.text(0.5, 0.55, format_value(last, unit), transform=axes.transAxes, color=COLORS["green"],
              fontsize=24, fontweight="bold", ha="center", va="center")  # fmt: skip


# -- command line ---------------------------------------------------------------------------


def save(run: Run, path: Path = SERIES_JSON) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(run.__dict__), encoding="utf-8")


def load(path: Path) -> Run:
    data = json.loads(path.read_text(encoding="utf-8"))
    data["events"] = [tuple(event) for event in data["events"]]
    return Run(**data)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--replot", type=Path, help="draw from this series JSON, no fleet")
    parser.add_argument("--out", type=Path, default=PICTURES)
    args = parser.parse_args(argv)
    rows = dashboard_rows()
    began = time.monotonic()
    if args.replot:
        run = load(args.replot)
    else:
        run = run_fleet(rows)
        save(run)
        print(f"series in {SERIES_JSON.relative_to(ROOT)}")
    for path in draw_rows(run, rows, args.out):
        print(f"wrote {path.relative_to(ROOT)} ({path.stat().st_size // 1024} KB)")
    print(f"{time.monotonic() - began:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
