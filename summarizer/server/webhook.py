"""Webhooks: each finished digest POSTed to SUMMARIZER_WEBHOOK_URL, signed, retried until sent.

The body is JSON: `{"event": "digest.done", "date", "job_id", "digest": <the JSON output
contract>}`. With SUMMARIZER_WEBHOOK_SECRET set, `X-Summarizer-Signature` carries
`sha256=<hex>`, the HMAC-SHA256 with that secret of the `X-Summarizer-Timestamp` value (Unix
seconds), a dot, and the body's bytes; a receiver recomputes it (see `verify`) and may refuse
old timestamps to stop replays. An answer other than 2xx, or none, is tried again after
SUMMARIZER_WEBHOOK_RETRY_SECONDS, doubling up to an hour, SUMMARIZER_WEBHOOK_MAX_ATTEMPTS
times in all. Deliveries are rows in the database, so none is lost when a worker stops.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import time
from typing import TYPE_CHECKING

import httpx

from .. import __version__
from ..errors import NotFound
from .store import Delivery

if TYPE_CHECKING:
    from .service import Service

log = logging.getLogger(__name__)

EVENT = "digest.done"
SIGNATURE_HEADER = "X-Summarizer-Signature"
TIMESTAMP_HEADER = "X-Summarizer-Timestamp"
EVENT_HEADER = "X-Summarizer-Event"
TIMEOUT_SECONDS = 10.0
HOLD_SECONDS = 120.0  # a claimed delivery is another worker's again after this
LONGEST_WAIT = 3600.0


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The signature header's value for a body sent at `timestamp`."""
    mac = hmac.new(secret.encode("utf-8"), timestamp.encode("ascii") + b"." + body,
                   hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def verify(secret: str, timestamp: str, body: bytes, signature: str) -> bool:
    """Whether a received signature is the one `secret` gives (a constant-time comparison)."""
    return hmac.compare_digest(sign(secret, timestamp, body), signature)


def retry_wait(attempts: int, first: float) -> float:
    """Seconds before the next try after `attempts` failed ones."""
    return float(min(LONGEST_WAIT, first * 2 ** max(0, attempts - 1)))


async def deliver_due(service: Service) -> list[Delivery]:
    """Send every delivery whose time has come (claimed, so no other worker sends it too)."""
    due = await asyncio.to_thread(service.store.claim_deliveries, HOLD_SECONDS)
    for delivery in due:
        await deliver(service, delivery)
    return due


async def deliver(service: Service, delivery: Delivery) -> bool:
    """One try at sending a finished digest; whether it was received (a 2xx answer)."""
    settings = service.settings
    store = service.store
    url = settings.webhook_url
    if not url:
        return False
    try:
        page = await service.digest_page(delivery.day, "application/json")
    except NotFound:
        await asyncio.to_thread(store.record_delivery, delivery.job_id, sent=False,
                                error=f"the digest of {delivery.day} is no longer stored")
        return False
    head = json.dumps({"event": EVENT, "date": delivery.day, "job_id": delivery.job_id},
                      ensure_ascii=False, separators=(",", ":"))
    body = head[:-1].encode("utf-8") + b',"digest":' + page.content + b"}"
    stamp = str(int(time.time()))
    headers = {"Content-Type": "application/json", EVENT_HEADER: EVENT,
               TIMESTAMP_HEADER: stamp, "User-Agent": f"summarizer/{__version__} (webhook)"}
    if settings.webhook_secret is not None:
        headers[SIGNATURE_HEADER] = sign(settings.webhook_secret.get_secret_value(), stamp, body)
    error = None
    try:
        async with httpx.AsyncClient(timeout=TIMEOUT_SECONDS, follow_redirects=False) as client:
            answer = await client.post(url, content=body, headers=headers)
        if not answer.is_success:
            error = f"HTTP {answer.status_code} from the webhook"
    except httpx.HTTPError as e:
        error = f"could not reach the webhook: {type(e).__name__}: {e}".rstrip(": ")
    if error is None:
        await asyncio.to_thread(store.record_delivery, delivery.job_id, sent=True)
        log.info("webhook sent for the digest of %s (job %s)", delivery.day, delivery.job_id)
        return True
    attempts = delivery.attempts + 1
    retry = (retry_wait(attempts, settings.webhook_retry_seconds)
             if attempts < settings.webhook_max_attempts else None)
    log.warning("webhook for the digest of %s failed (%s); %s", delivery.day, error,
                f"trying again in {retry:.0f} s" if retry is not None else "giving up")
    await asyncio.to_thread(store.record_delivery, delivery.job_id, sent=False, error=error,
                            retry_in=retry)
    return False
