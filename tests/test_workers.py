"""Several processes on one database: an API process that only queues work, and two
`summarizer worker` processes, one of them killed with SIGKILL in the middle of a digest."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest
from fault_server import FaultServer, articles
from service_process import Server, process_env

from summarizer.server.store import open_store

DAY = "2026-03-14"
LEASE_SECONDS = 2
CALL_SECONDS = 0.4  # each model call, as the stub model answers
# Between the stub model sending an answer and the worker caching it; a call answered this
# long before the kill counts as finished.
CACHED_WITHIN = 0.5


def _env(tmp_path: Path, database: dict[str, str], model: FaultServer) -> dict[str, str]:
    env = process_env(tmp_path, **{
        "SUMMARIZER_BACKEND": "openai",
        "OPENAI_BASE_URL": model.base_url,
        "OPENAI_API_KEY": "test-key",
        "SUMMARIZER_MODEL": "stub-model",
        "SUMMARIZER_WRITING": "quoted",
        "SUMMARIZER_CONCURRENCY": "2",
        "SUMMARIZER_JOB_LEASE_SECONDS": str(LEASE_SECONDS),
        "SUMMARIZER_WORKER_POLL_SECONDS": "0.2",
        **database,
    })
    return env


def _database(engine: str, tmp_path: Path, request: pytest.FixtureRequest) -> dict[str, str]:
    if engine == "postgresql":
        return {"DATABASE_URL": request.getfixturevalue("postgres_schemas")()}
    return {"SUMMARIZER_DB_PATH": str(tmp_path / "service.sqlite3")}


def _wait(check, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.05)
    raise AssertionError(f"{what} did not happen within {timeout} s")


def test_a_killed_workers_job_is_finished_by_another_without_redoing_finished_calls(
        engine: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    with FaultServer(rate=0.0, delay=CALL_SECONDS) as model:
        env = _env(tmp_path, _database(engine, tmp_path, request), model)
        api = Server(env, tmp_path, ("serve", "--no-worker"))
        workers = [Server(env, tmp_path, ("worker",)) for _ in range(2)]
        store = None
        try:
            api.start()
            with api.client() as client:
                posted = client.post("/v1/articles", json={"articles": [
                    {**a, "published": DAY} for a in articles(12)]})
                assert [o["status"] for o in posted.json()["articles"]] == ["stored"] * 12
                job_id = client.post("/v1/digests", json={"date": DAY}).json()["job_id"]
            time.sleep(0.5)
            assert not model.log  # the API process queued the job and ran nothing
            for worker in workers:
                worker.start()
            store = open_store(env.get("DATABASE_URL") or env["SUMMARIZER_DB_PATH"])

            def running_with_calls_answered():
                job = store.get_job(job_id)
                settled = time.time() - CACHED_WITHIN - 0.1
                answered = sum(1 for at, event, _ in model.log
                               if event == "answered" and at < settled)
                return job if job.status == "running" and answered >= 2 else None

            job = _wait(running_with_calls_answered, 60, "the digest running")
            pid = int(job.worker.split(":")[1])
            [holder] = [w for w in workers if w.process.pid == pid]
            holder.process.send_signal(signal.SIGKILL)
            holder.process.wait(timeout=10)
            killed = time.time()

            def finished():
                found = store.get_job(job_id)
                return found if found.status in ("done", "failed") else None

            done = _wait(finished, 60, "the digest finishing")
            took = time.time() - killed
            request.node.user_properties.append(("seconds_from_kill_to_done", round(took, 2)))
            with api.client() as client:
                digest = client.get(f"/v1/digests/{DAY}").json()
        finally:
            for worker in workers:
                worker.stop()
            api.stop()
            if store is not None:
                store.close()

    assert done.status == "done", done.error
    assert done.worker != job.worker and int(done.worker.split(":")[1]) != pid
    assert took <= 10, f"another worker finished the job {took:.1f} s after the kill"
    assert digest["stories"]
    finished_before = {key for at, event, key in model.log
                       if event == "answered" and at < killed - CACHED_WITHIN}
    asked_after = [key for at, event, key in model.log if event == "asked" and at > killed]
    assert finished_before and asked_after  # the kill fell mid-job
    assert not finished_before & set(asked_after), "a finished call was made again"
    # What was asked again can only be what was in flight when the worker died.
    again = [key for key in asked_after
             if any(k == key and at < killed for at, event, k in model.log if event == "asked")]
    assert len(again) <= 2  # SUMMARIZER_CONCURRENCY
    assert digest["date"] == DAY
