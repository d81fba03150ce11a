"""Prometheus metrics of the service, in a registry of their own."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter("summarizer_http_requests", "HTTP requests answered",
                                ["method", "route", "status"], registry=self.registry)
        self.latency = Histogram("summarizer_http_request_seconds", "HTTP request latency",
                                 ["route"], registry=self.registry)
        self.articles = Counter("summarizer_articles_ingested", "Posted articles by outcome",
                                ["status"], registry=self.registry)
        self.jobs = Counter("summarizer_jobs", "Digest jobs by state reached", ["status"],
                            registry=self.registry)
        self.llm_calls = Counter("summarizer_llm_calls", "Model calls made",
                                 registry=self.registry)
        self.tokens = Counter("summarizer_llm_tokens", "Model tokens", ["kind"],
                              registry=self.registry)
        self.cache_hits = Counter("summarizer_llm_cache_hits", "Model calls answered by the cache",
                                  registry=self.registry)


METRICS = Metrics()
