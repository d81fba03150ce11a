"""The OpenAPI document against what the service does: schemathesis reads the document from a
live server on loopback (uvicorn, the scripted model, SQLite in a temporary folder, API keys set),
generates valid and invalid requests for every operation, and fails on any 5xx and on any answer
the document does not describe: its status, its media type, its body, its headers; on invalid
input that is accepted, and on a key the server does not enforce.

Checks left out, with the reason: `positive_data_acceptance` (a request the schema allows may
still be refused by rules JSON Schema cannot state and the service answers with a documented 4xx:
publication years 1900 to next year, at least one readable article, the length limits the
settings hold); `unsupported_method` (405 for methods nobody documents adds nothing here).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import hypothesis
import pytest
import schemathesis
from test_api import live

from summarizer.server.app import create_app
from summarizer.settings import Settings

KEY = "contract-test-key"
EXAMPLES_PER_OPERATION = 50
STATEFUL_SCENARIOS = 30
CHECKS = ["not_a_server_error", "status_code_conformance", "content_type_conformance",
          "response_schema_conformance", "response_headers_conformance",
          "negative_data_rejection", "missing_required_header", "ignored_auth"]


def _settings(folder: Path) -> Settings:
    return Settings(db_path=folder / "service.sqlite3", cache_path=folder / "cache.sqlite3",
                    api_keys=KEY, allow_network=False, sync_summary_articles=2,
                    max_articles_per_request=20)


# The document as the app builds it (no server needed for that); the fixture below checks that
# the live server serves this very document.
DOCUMENT = create_app(_settings(Path("unused"))).openapi()
schema = schemathesis.openapi.from_dict(DOCUMENT)
schema.config.generation.update(max_examples=EXAMPLES_PER_OPERATION, deterministic=True)
schema.config.phases.update(phases=["examples", "coverage", "fuzzing", "stateful"])
schema.config.checks.update(included_check_names=CHECKS)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The service on loopback; its base URL."""
    with live(_settings(tmp_path_factory.mktemp("contract")), key=KEY) as client:
        assert client.get("/openapi.json").json() == DOCUMENT
        yield str(client.base_url)


@schema.parametrize()
def test_every_answer_matches_the_document(case: schemathesis.Case, server: str) -> None:
    case.call_and_validate(base_url=server, headers={"Authorization": f"Bearer {KEY}"})


def test_followed_links_match_the_document(server: str) -> None:
    """Sequences of calls along the document's links: a started job is followed to its state,
    its result and its event stream, a digest to its day's page, with real ids."""
    headers = {"Authorization": f"Bearer {KEY}"}

    # Feeds and schedules are left out here: links inferred from their lists (to DELETE one)
    # depend on what earlier scenarios added and removed, so the same steps would not replay
    # alike. Each of their operations is still checked alone by
    # test_every_answer_matches_the_document.
    followed = schema.exclude(path_regex="^/v1/(feeds|schedules)")

    class Following(followed.as_state_machine()):  # type: ignore[misc]
        def get_call_kwargs(self, case: schemathesis.Case) -> dict[str, object]:
            return {"base_url": server, "headers": headers}

        def validate_response(self, response, case, additional_checks=None, **kwargs) -> None:
            case.validate_response(response, additional_checks=additional_checks,
                                   headers=headers, transport_kwargs=kwargs)

    Following.run(settings=hypothesis.settings(max_examples=STATEFUL_SCENARIOS, deadline=None,
                                               stateful_step_count=6, derandomize=True))


@pytest.mark.usefixtures("no_network")
def test_posted_urls_reach_nothing_beyond_this_machine(server: str) -> None:
    """Records with only a `url` are fetched, and schemathesis posts arbitrary ones: with
    network access off and private addresses refused (the server's settings), every URL is a
    skip with its reason, before any lookup or connection beyond loopback."""
    urls = ["http://example.com/a", "https://10.0.0.5/", "http://169.254.169.254/latest",
            "http://2130706433/", "http://127.0.0.1:1/", "http://localhost/", "http://[::1]/"]
    answer = httpx.post(f"{server}/v1/articles", timeout=30,
                        headers={"Authorization": f"Bearer {KEY}"},
                        json={"articles": [{"url": url} for url in urls]})
    assert answer.status_code == 200
    reasons = [(o["status"], o["reason"]) for o in answer.json()["articles"]]
    assert all(status == "skipped" for status, _ in reasons)
    assert all("network access is off" in reason for _, reason in reasons[:4])
    assert all("loopback address" in reason for _, reason in reasons[4:])
