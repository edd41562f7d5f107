"""Prometheus metrics of the service, in a registry of its own."""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from pyjobs.server.db.models import Run

_DURATION_BUCKETS = (0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900, 3600, 14400, 86400)


class Metrics:
    """Counters, histograms and gauges of submissions, runs, the queue and the env cache."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.submissions = Counter("pyjobs_submissions", "Tasks submitted.", registry=self.registry)
        self.runs_finished = Counter(
            "pyjobs_runs_finished",
            "Runs that ended, by final status and reason.",
            ["status", "reason"],
            registry=self.registry,
        )
        self.run_duration = Histogram(
            "pyjobs_run_duration_seconds",
            "Time the code ran.",
            buckets=_DURATION_BUCKETS,
            registry=self.registry,
        )
        self.setup_duration = Histogram(
            "pyjobs_setup_duration_seconds",
            "Time to get the environment ready.",
            buckets=_DURATION_BUCKETS,
            registry=self.registry,
        )
        self.env_cache = Counter(
            "pyjobs_env_cache_lookups",
            "Environment cache lookups by result.",
            ["result"],
            registry=self.registry,
        )
        self.queue_depth = Gauge(
            "pyjobs_queue_depth", "Runs waiting to start (all servers).", registry=self.registry
        )
        self.running = Gauge("pyjobs_runs_running", "Runs in progress.", registry=self.registry)

    def bind_queue(self, pending: Callable[[], float], running: Callable[[], float]) -> None:
        """Compute the queue gauges at scrape time from the database."""
        self.queue_depth.set_function(pending)
        self.running.set_function(running)

    def finished(self, run: Run) -> None:
        """Count a run that reached its final status."""
        self.runs_finished.labels(run.status, run.reason or "").inc()
        if run.run_seconds is not None:
            self.run_duration.observe(run.run_seconds)

    def setup_done(self, hit: bool, seconds: float) -> None:
        """Count an environment lookup and how long setup took."""
        self.env_cache.labels("hit" if hit else "miss").inc()
        self.setup_duration.observe(seconds)

    def render(self) -> bytes:
        """The text exposition format."""
        return generate_latest(self.registry)


METRICS = Metrics()
