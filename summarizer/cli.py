"""The `summarizer` command: one-off cited summaries of files, folders or stdin."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import logging
import os
import signal
import sqlite3
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from tqdm import tqdm

from . import __version__
from .errors import GateError, InputError, NotFound, RateLimited, SummarizerError
from .language import check_code, language_name, preload
from .llm import BACKENDS, make_backend, make_judge_backend
from .settings import get_settings

# The pipeline and what it needs are imported where a command runs: `--version`, `--help` and
# a bad option answer at once, and a summary starts loading its language model sooner.
if TYPE_CHECKING:
    from .checking.judge import LLMJudge
    from .llm.cache import Cache
    from .llm.prices import Plan, Price

log = logging.getLogger("summarizer")

EXIT_OK, EXIT_FAILURE, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130

# What each kind of error means at the terminal: the exit code, and what to do where the
# error's own message cannot know it. The first kind that matches wins: kinds before their bases.
EXITS: tuple[tuple[type[SummarizerError], int, str], ...] = (
    (InputError, EXIT_USAGE, ""),  # NotFound too: a file or option to fix
    (GateError, EXIT_USAGE, ""),  # a floor would be lowered without --allow-lower
    (RateLimited, EXIT_FAILURE, "try again later, or lower --concurrency "
                                "(SUMMARIZER_CONCURRENCY)"),
    (SummarizerError, EXIT_FAILURE, ""),  # configuration, backend, store: the message says what
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="summarizer", description="Faithful, cited summaries of news articles.")
    parser.add_argument("--version", action="version", version=f"summarizer {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser(
        "summarize", help="summarise articles: one summary each, then one across them",
        description="Summarise articles from files (.txt .md .html .json .jsonl), folders, "
                    "http(s) URLs (fetched), or '-' for stdin. Markdown goes to stdout unless "
                    "--out is given.")
    run.add_argument("paths", nargs="+", metavar="PATH",
                     help="file, folder, http(s) URL, or - for stdin")
    run.add_argument("--format", choices=("md", "json"), default="md",
                     help="output format (default: md)")
    run.add_argument("--out", type=Path, metavar="FILE", help="write the output to FILE")
    run.add_argument("--backend", choices=BACKENDS,
                     help="model backend (default: SUMMARIZER_BACKEND, else openai when "
                          "OPENAI_API_KEY or OPENAI_BASE_URL is set, else local)")
    run.add_argument("--model", help="model name (openai) or .gguf path (local); "
                                     "default SUMMARIZER_MODEL")
    run.add_argument("--concurrency", type=_positive, metavar="N",
                     help="model calls at once (default SUMMARIZER_CONCURRENCY, 4)")
    run.add_argument("--no-cache", action="store_true",
                     help="ignore the cache of earlier model calls")
    run.add_argument("--writing", choices=("quoted", "fused", "auto"),
                     help="quoted: the sources' own sentences; fused: the model restates each "
                          "fact, kept only where verified; auto: quoted for the embedded model "
                          "and models declared small (default SUMMARIZER_WRITING, auto)")
    run.add_argument("--verify", choices=("offline", "llm", "auto"),
                     help="how restatements are verified: offline: the checker alone; llm: the "
                          "LLM judge decides each; auto: the judge decides what the checker "
                          "finds uncertain or flags, offline for the embedded model (default "
                          "SUMMARIZER_VERIFY, auto). The judge is the run's model unless "
                          "SUMMARIZER_JUDGE_MODEL or SUMMARIZER_JUDGE_BASE_URL names one")
    run.add_argument("--language", type=_language, metavar="CODE",
                     help="write the summaries in this language (ISO 639-1, e.g. fr); quoted "
                          "sentences stay in their sources' language, marked (default "
                          "SUMMARIZER_LANGUAGE, else the language most articles are in)")
    run.add_argument("--strict", action="store_true",
                     help="leave out sentences that no passage supports (default: keep them, "
                          "marked unsupported with the reason)")
    run.add_argument("--max-cost", type=_usd, metavar="USD",
                     help="refuse a run estimated to cost more than USD, and make no call "
                          "that could take it past USD (default SUMMARIZER_MAX_COST_USD, none)")
    run.add_argument("--dry-run", action="store_true",
                     help="print the model calls the run would make, their tokens and "
                          "estimated cost, and call no model")
    serve = commands.add_parser(
        "serve", help="run the HTTP digest service",
        description="Serve the HTTP API (OpenAPI at /docs). Without SUMMARIZER_API_KEYS it "
                    "binds to loopback only.")
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    serve.add_argument("--port", type=_positive, default=8000, help="port (default 8000)")
    running = serve.add_mutually_exclusive_group()
    running.add_argument("--with-worker", dest="with_worker", action="store_true", default=None,
                         help="also run jobs, feeds, schedules and webhooks in this process "
                              "(the default; SUMMARIZER_WITH_WORKER)")
    running.add_argument("--no-worker", dest="with_worker", action="store_false",
                         help="only queue work and serve reads; `summarizer worker` processes "
                              "run the jobs")
    commands.add_parser(
        "worker", help="run digest and summary jobs, feeds, schedules and webhooks",
        description="Run queued jobs, poll feeds, build the scheduled digest and send webhooks, "
                    "sharing the database (DATABASE_URL or SUMMARIZER_DB_PATH) with any number "
                    "of API processes and other workers. Stop with Ctrl-C or SIGTERM.")
    feeds = commands.add_parser(
        "feeds", help="add, list, remove and poll RSS and Atom feeds",
        description="Feeds the service's workers poll for articles (every "
                    "SUMMARIZER_FEED_INTERVAL_SECONDS), in the service's database.")
    feed = feeds.add_subparsers(dest="feeds", required=True)
    add = feed.add_parser("add", help="add a feed (polled at once by a running worker)")
    add.add_argument("url", help="the feed's http(s) URL")
    add.add_argument("--name", help="the outlet its articles are credited to "
                                    "(default: the feed's own title)")
    listing = feed.add_parser("list", help="the feeds, with their last poll and any error")
    listing.add_argument("--format", choices=("text", "json"), default="text")
    remove = feed.add_parser("remove", help="stop polling a feed (its articles stay)")
    remove.add_argument("feed_id", metavar="ID")
    poll = feed.add_parser("poll", help="poll feeds now, in this process, and say what came")
    poll.add_argument("feed_id", nargs="?", metavar="ID", help="one feed (default: every feed)")
    evaluate = commands.add_parser("eval", help="run the evaluations",
                                   description="Evaluations of the summarizer and its checker.")
    evals = evaluate.add_subparsers(dest="eval", required=True)
    faith = evals.add_parser(
        "faithfulness", help="meta-evaluate the support checker on human-labelled data",
        description="Score labelled (document, summary) rows with a support checker (the "
                    "offline one, or the LLM judge with --judge llm). "
                    "The threshold is chosen on the file's dev rows; balanced accuracy and ROC "
                    "AUC are reported on --split, with the offline checker also at its default "
                    "cut. Given a folder, every labelled set in it is reported, one table each: "
                    "the checker, the bigram-precision and name/number-novelty baselines on the "
                    "same rows, and the LLM judge with --judge llm or --backend.")
    faith.add_argument("--data", type=Path, default=Path("../shared/data/faithfulness"),
                       metavar="PATH",
                       help="JSONL with id, origin, split, document, summary, label; or a folder "
                            "of the shared sets (default: ../shared/data/faithfulness)")
    faith.add_argument("--origin", help="only rows of this origin (e.g. cnndm, bbc)")
    faith.add_argument("--split", default="test", help="rows to report on (default: test)")
    faith.add_argument("--format", choices=("text", "json"), default="text")
    faith.add_argument("--judge", choices=("offline", "llm"), default="offline",
                       help="checker to evaluate: the offline one (default) or the LLM judge")
    faith.add_argument("--limit", type=_positive, metavar="N",
                       help="score a sample of N rows of each of dev and --split (stratified "
                            "by label, seeded), for slow judges")
    faith.add_argument("--backend", choices=BACKENDS,
                       help="model backend for --judge llm (default as for summarize)")
    faith.add_argument("--model", help="model name (openai) or .gguf path (local)")
    faith.add_argument("--no-cache", action="store_true",
                       help="ignore the cache of earlier model calls (--judge llm)")
    hostile = evals.add_parser(
        "injection", help="how often a hostile article's instruction reaches the output",
        description="Summarise each hostile case of evals/sets/injection and count, per "
                    "backend and for a stand-in model the attack fooled, the attacks whose "
                    "payload reaches the output in a sentence not marked suspicious. Exits 1 "
                    "when any does (the target is 0).")
    hostile.add_argument("--backend", choices=BACKENDS, action="append", dest="backends",
                         help="a backend to run (repeatable; default: scripted, and local "
                              "when the embedded model is installed)")
    hostile.add_argument("--cases", type=Path, default=Path("evals/sets/injection/cases.json"),
                         help="the cases file (default: evals/sets/injection/cases.json)")
    hostile.add_argument("--format", choices=("md", "json"), default="md")
    for name, text in (("pipeline", "summarise the article sets and score the output"),
                       ("all", "pipeline evals, the checker on edits and on labelled data, "
                               "reports, and the regression gate")):
        suite = evals.add_parser(name, help=text, description=text + ".")
        suite.add_argument("--sets", type=Path, nargs="+", metavar="DIR",
                           help="article set folders (default: examples/ and evals/sets/*)")
        suite.add_argument("--backend", choices=BACKENDS, default="scripted",
                           help="model backend (default: scripted, which needs no model)")
        suite.add_argument("--model", help="model name (openai) or .gguf path (local)")
        suite.add_argument("--out", type=Path, default=Path("evals/reports"),
                           help="where reports go (default: evals/reports)")
        suite.add_argument("--language", type=_language, metavar="CODE",
                           help="write every set's summaries in this language (default: each "
                                "set's own); language_consistency says how many are in it")
        if name == "all":
            suite.add_argument("--data", type=Path, default=Path("../shared/data/faithfulness"),
                               help="labelled faithfulness data (skipped when absent)")
            suite.add_argument("--baseline", type=Path, default=Path("evals/baseline.json"))
            suite.add_argument("--labels", type=Path,
                               default=Path("evals/data/embedded_labels.json"),
                               help="hand labels of the embedded model's sentences, held to "
                                    "with --backend local (default: "
                                    "evals/data/embedded_labels.json)")
            suite.add_argument("--seeds", type=Path, default=Path("../shared/data/seeds"),
                               help="the shared seed articles, also run with --backend local "
                                    "for their labels (skipped when absent)")
            suite.add_argument("--gate", action="store_true",
                               help="fail (exit 1) when a figure falls below its pinned floor")
            suite.add_argument("--update-baseline", action="store_true",
                               help="pin this run's figures as the floors")
            suite.add_argument("--allow-lower", action="store_true",
                               help="let --update-baseline lower a floor")
    return parser


def _positive(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        number = 0
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number of at least 1, not '{value}'")
    return number


def _usd(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        number = -1.0
    if not number >= 0 or number == float("inf"):
        raise argparse.ArgumentTypeError(f"must be an amount in USD of 0 or more, such as 0.05, "
                                         f"not '{value}'")
    return number


def _language(value: str) -> str:
    try:
        return check_code(value)
    except InputError as e:
        raise argparse.ArgumentTypeError(str(e)) from e


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="summarizer: %(message)s")
    commands = {"summarize": _summarize, "serve": _serve, "worker": _worker, "feeds": _feeds,
                "eval": _evaluate}
    try:
        return commands[args.command](args)
    except SummarizerError as e:
        code, hint = exit_for(e)
        print(f"summarizer: error: {e}" + (f"; {hint}" if hint else ""), file=sys.stderr)
        return code
    except KeyboardInterrupt:
        print("summarizer: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


def exit_for(error: SummarizerError) -> tuple[int, str]:
    """The exit code for an error, and the hint to add to its message (may be empty)."""
    return next((code, hint) for kind, code, hint in EXITS if isinstance(error, kind))


def _summarize(args: argparse.Namespace) -> int:
    preload()  # the language model, while the pipeline is imported
    from .ingest import no_readable_article, read_inputs
    from .pipeline import plan, run_options, summarize
    from .render import to_json, to_markdown

    settings = get_settings()
    with tqdm(total=0, desc="fetching", unit="page", file=sys.stderr, delay=0.5,
              disable=not sys.stderr.isatty(), leave=False) as bar:  # shown only for URLs
        docs, skips = read_inputs(args.paths, settings=settings, progress=_BarProgress(bar))
    for skip in skips:
        log.warning("skipped %s: %s", skip.origin, skip.reason)
    if not docs:  # before any model is loaded
        raise no_readable_article(skips)
    backend = make_backend(settings, args.backend, args.model, plan_only=args.dry_run)
    judge = make_judge_backend(settings)
    cache = None if args.no_cache or settings.no_cache else _open_cache(settings.cache_path)
    options = run_options(settings, strict=args.strict, concurrency=args.concurrency,
                          writing=args.writing, verify=args.verify, max_cost_usd=args.max_cost,
                          language=args.language)
    if args.dry_run:
        estimate = asyncio.run(plan(docs, backend=backend, judge=judge, options=options,
                                    cache=cache))
        _emit(args, json.dumps(estimate.as_json(), ensure_ascii=False, indent=2) + "\n"
              if args.format == "json" else _plan_text(estimate, len(docs)))
        return EXIT_OK
    with tqdm(total=0, desc="summarizing", unit="call", file=sys.stderr,
              disable=not sys.stderr.isatty(), leave=False) as bar:
        result = asyncio.run(summarize(
            docs, skips, backend=backend, judge=judge, cache=cache, progress=_BarProgress(bar),
            options=options,
        ))
    for skip in result.skipped[len(skips):]:
        log.warning("skipped %s: %s", skip.origin, skip.reason)
    if result.failed:
        parts = ", ".join(f"{n} {part}" for part, n in
                          Counter(f.part for f in result.failed).items())
        log.warning("the model failed %s even after retries; the rest is summarised. Run the "
                    "same command again to retry only what failed", parts)
    if result.usage.cost_limit_reached:
        from .llm.prices import dollars

        log.warning("the cost limit of %s stopped the run's last calls (%s spent); what they "
                    "were for is listed as failed or quoted",
                    dollars(result.usage.cost_limit_usd or 0.0),
                    dollars(result.usage.cost_usd or 0.0))
    if result.language is not None and not result.language.honoured:
        log.warning("the summary could not be all in %s: %s",
                    language_name(result.language.output), result.language.reason)
    if args.format == "json":
        output = json.dumps(to_json(result), ensure_ascii=False, indent=2) + "\n"
    else:
        output = to_markdown(result)
    _emit(args, output)
    return EXIT_OK


def _emit(args: argparse.Namespace, output: str) -> None:
    if args.out:
        _write_atomically(args.out, output)
    else:
        sys.stdout.write(output)


def _plan_text(estimate: Plan, articles: int) -> str:
    """A dry run's plan as a table: each kind of call, its tokens and worst-case cost."""
    from .llm.prices import dollars

    def money(value: object) -> str:
        return dollars(value) if isinstance(value, float) else "unknown"

    def price(model: str, value: Price | None) -> str:
        if value is None:
            return f"{model}: no known price"
        where = f" ({value.source}{', ' + value.date if value.date else ''})" \
            if value.source else ""
        return (f"{model} at ${value.input_per_mtok:g} / ${value.output_per_mtok:g} per "
                f"million prompt / output tokens{where}")

    lines = [f"Dry run: no model was called. {articles} input(s); {estimate.backend} "
             + price(estimate.model, estimate.price) + "."]
    if estimate.judge_model is not None:
        lines.append(f"Judge: {estimate.judge_backend} "
                     + price(estimate.judge_model, estimate.judge_price) + ".")
    lines.append(f"{'calls':<14}{'number':>7}{'cached':>8}{'prompt tokens':>22}"
                 f"{'max output':>12}{'cost at most':>15}")
    for kind, row in estimate.by_kind(prompts=True).items():
        tokens = f"{row['prompt_tokens']:,} ({'exact' if row['prompt_tokens_exact'] else 'bound'})"
        lines.append(f"{kind:<14}{row['calls']:>7}{row['cached']:>8}{tokens:>22}"
                     f"{row['max_output_tokens']:>12,}{money(row['cost_usd']):>15}")
    fits = estimate.fits
    if estimate.max_cost_usd is None:
        lines.append("No cost limit is set (--max-cost, SUMMARIZER_MAX_COST_USD).")
    elif fits is None:
        lines.append(f"Cost limit {dollars(estimate.max_cost_usd)}: cannot be checked without a "
                     "price; the run would be refused.")
    else:
        lines.append(f"Cost limit {dollars(estimate.max_cost_usd)}: "
                     + ("fits." if fits else "over it; the run would be refused."))
    lines.append("Prompt tokens are counted on the rendered prompts with the model's tokenizer, "
                 "with 8 a message for the chat template. 'bound': some prompts are made from "
                 "earlier answers (restating, judging) and are counted as if the longest "
                 "sentences were chosen and every restatement judged. Each call is costed at "
                 "its whole output allowance; answers already in the cache cost nothing. "
                 "Re-asks of unreadable replies are not counted; the limit stops them during "
                 "the run.")
    return "\n".join(lines) + "\n"


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from .llm import LOOPBACK
    from .server.app import create_app

    settings = get_settings()
    if args.host not in LOOPBACK and not settings.keys():
        raise InputError(f"refusing to serve on {args.host} without API keys; set "
                         "SUMMARIZER_API_KEYS (comma-separated bearer keys) or bind to "
                         "127.0.0.1")
    if args.with_worker is not None:
        settings = settings.model_copy(update={"with_worker": args.with_worker})
    uvicorn.run(create_app(settings), host=args.host, port=args.port, log_level="info")
    return EXIT_OK


def _worker(_: argparse.Namespace) -> int:
    from .server.service import open_service

    settings = get_settings()
    logging.getLogger("summarizer").setLevel(logging.INFO)

    async def work() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        async with open_service(settings, worker=True) as service:
            assert service.worker is not None
            log.info("worker %s started", service.worker.id)
            await stop.wait()

    asyncio.run(work())
    return EXIT_OK


def _feeds(args: argparse.Namespace) -> int:
    from .server import feeds
    from .server.service import open_service

    settings = get_settings()

    async def run() -> int:
        async with open_service(settings, worker=False) as service:
            store = service.store
            if args.feeds == "add":
                feed, added = await asyncio.to_thread(
                    store.add_feed, feeds.check_url(args.url), args.name)
                print(f"{'added' if added else 'already there'}: {feed.id} {feed.url}")
            elif args.feeds == "remove":
                if not await asyncio.to_thread(store.remove_feed, args.feed_id):
                    raise NotFound(f"no feed with id {args.feed_id}; see `summarizer feeds "
                                   "list`")
                print(f"removed {args.feed_id}")
            elif args.feeds == "list":
                rows = [feeds.describe(f) for f in await asyncio.to_thread(store.feeds)]
                if args.format == "json":
                    print(json.dumps(rows, ensure_ascii=False, indent=2))
                for row in rows if args.format == "text" else ():
                    state = f"error: {row['error']}" if row["error"] else "ok"
                    print(f"{row['id']}  {row['url']}  {row['name'] or '-'}  "
                          f"polled {row['polled'] or 'never'}, next {row['next_poll']}  {state}")
            else:
                polls = await feeds.poll_now(service, args.feed_id)
                if args.feed_id and not polls:
                    raise NotFound(f"no feed with id {args.feed_id}; see `summarizer feeds "
                                   "list`")
                for poll in polls:
                    counts = Counter(e.status for e in poll.entries)
                    if poll.unread:
                        counts["to fetch again"] = poll.unread
                    said = ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
                    print(f"{poll.feed_id}: {poll.status}"
                          + (f" ({poll.error})" if poll.error else "")
                          + (f": {said}" if said else ""))
            return EXIT_OK

    return asyncio.run(run())


def _evaluate(args: argparse.Namespace) -> int:
    if args.eval == "injection":
        return _eval_injection(args)
    return _eval(args) if args.eval == "faithfulness" else _eval_suite(args)


def _eval_injection(args: argparse.Namespace) -> int:
    from .evaluation import suite
    from .pipeline import run_options

    if not args.cases.is_file():
        raise InputError(f"no injection cases at {args.cases}; run from the project folder "
                         "or pass --cases")
    settings = get_settings()
    options = run_options(settings)
    runs = [asyncio.run(suite.run_injection(  # a model the attack fooled, in both writings
        args.cases, None, dataclasses.replace(options, writing=writing)))
        for writing in ("quoted", "fused")]
    skipped = []
    for name in args.backends or ["scripted", "local"]:
        try:
            backend = make_backend(settings, name)
        except SummarizerError as e:
            if args.backends:
                raise
            skipped.append(f"{name}: {e}")  # the embedded model is an optional install
            continue
        runs.append(asyncio.run(suite.run_injection(args.cases, backend, options)))
    if args.format == "json":
        print(json.dumps({"runs": runs, "skipped": skipped}, indent=2, ensure_ascii=False))
    else:
        print(suite.injection_markdown(runs, skipped), end="")
    return EXIT_OK if not any(run["reached"] for run in runs) else EXIT_FAILURE


def _eval(args: argparse.Namespace) -> int:
    from .evaluation.metaeval import compare, evaluate, judge_scorer

    if args.data.is_dir():
        return _eval_sets(args)
    if not args.data.is_file():
        print(f"summarizer: skipped: labelled data not found at {args.data}", file=sys.stderr)
        return EXIT_OK
    judge, started = _judge(args) if args.judge == "llm" else None, time.monotonic()
    try:
        if judge is None:  # the offline checker, then the baselines on the same rows
            result, *baselines = compare(args.data, origin=args.origin, split=args.split)
        else:
            result, baselines = evaluate(args.data, origin=args.origin, split=args.split,
                                         scorer=judge_scorer(judge), limit=args.limit,
                                         name="judge"), []
    except ValueError as e:
        raise InputError(str(e)) from e
    seconds = time.monotonic() - started
    if args.format == "json":
        figures = dataclasses.asdict(result) | {"judge": args.judge, "seconds": round(seconds, 1)}
        if baselines:
            figures["baselines"] = [{"scorer": b.scorer, "threshold": b.threshold,
                                     "balanced_accuracy": b.balanced_accuracy,
                                     "roc_auc": b.roc_auc} for b in baselines]
        if judge is not None:
            figures["usage"] = judge.caller.usage().model_dump()
        print(json.dumps(figures, indent=2))
        return EXIT_OK
    subset = f"origin {args.origin}, " if args.origin else ""
    print(f"{args.data.name} ({subset}{args.split} rows): {result.rows} rows, "
          f"{result.positives} labelled consistent")
    if result.limit is not None:
        print(f"sample: {result.rows} of {result.available_rows} {args.split} rows and "
              f"{result.dev_rows} of {result.available_dev_rows} dev rows (--limit "
              f"{result.limit}, stratified by label, seed 0)")
    if judge is not None:
        usage = judge.caller.usage()
        print(f"judge: llm, {usage.backend} {usage.model}; {usage.llm_calls} model calls, "
              f"{usage.cache_hits} cache hits, {seconds:.0f} s")
    print(f"threshold {result.threshold:.3f}, chosen on {result.dev_rows} dev rows")
    print(f"balanced accuracy {100 * result.balanced_accuracy:.1f}")
    print(f"ROC AUC {100 * result.roc_auc:.1f}")
    for name, cut, flagged in (("default cut", result.default_cut, "flagged unsupported"),
                               ("supported cut", result.supported_cut, "not marked supported")):
        if cut is None or (name == "supported cut" and result.default_cut is not None
                           and cut.threshold == result.default_cut.threshold):
            continue
        share = "n/a" if cut.flagged_consistent is None else f"{100 * cut.flagged_consistent:.1f}%"
        print(f"at the {name} {cut.threshold:.3f} (fitted, not chosen here): balanced accuracy "
              f"{100 * cut.balanced_accuracy:.1f}; {share} of the consistent rows {flagged}")
    for b in baselines:
        print(f"baseline {b.scorer}: threshold {b.threshold:.3f} (dev), balanced accuracy "
              f"{100 * b.balanced_accuracy:.1f}, ROC AUC {100 * b.roc_auc:.1f}")
    return EXIT_OK


def _judge(args: argparse.Namespace) -> LLMJudge:
    from .checking.judge import LLMJudge

    settings = get_settings()
    cache = None if args.no_cache or settings.no_cache else _open_cache(settings.cache_path)
    return LLMJudge(make_backend(settings, args.backend, args.model), cache=cache,
                    concurrency=settings.concurrency)


def _eval_sets(args: argparse.Namespace) -> int:
    """Every labelled set in the --data folder: one table each, checker against baselines."""
    from .checking import offline
    from .evaluation import suite
    from .evaluation.metaeval import judge_scorer

    if args.origin:
        raise InputError("--origin selects rows of one file: pass it with --data FILE")
    use_judge = args.judge == "llm" or args.backend is not None
    judge, started = _judge(args) if use_judge else None, time.monotonic()
    try:
        rows, skipped = suite.run_faithfulness(
            args.data, split=args.split, judge=judge_scorer(judge) if judge else None,
            limit=args.limit, dev_only=True)
    except ValueError as e:
        raise InputError(str(e)) from e
    if not rows:
        print(f"summarizer: skipped: no labelled sets found in {args.data}", file=sys.stderr)
        return EXIT_OK
    seconds = time.monotonic() - started
    usage = judge.caller.usage() if judge is not None else None
    if args.format == "json":
        print(json.dumps({
            "split": args.split, "default_threshold": offline.DEFAULT_THRESHOLD,
            "supported_cut": offline.SUPPORTED_CUT, "checker_fitted_on": offline.FIT.get(
                "fitted_on"), "sets": rows, "skipped": skipped,
            "judge": usage.model_dump() if usage else None, "seconds": round(seconds, 1),
        }, indent=2))
        return EXIT_OK
    print(f"# Faithfulness: offline checker against baselines ({args.data})")
    print(f"\nThresholds chosen on dev rows; default cut {offline.DEFAULT_THRESHOLD:.3f} and "
          f"supported cut {offline.SUPPORTED_CUT:.3f} as fitted in the checker, fitted on "
          f"{offline.FIT.get('fitted_on', 'dev rows')}.")
    if usage is not None:
        print(f"Judge: llm, {usage.backend} {usage.model}; {usage.llm_calls} model calls, "
              f"{usage.cache_hits} cache hits, {seconds:.0f} s"
              + (f"; --limit {args.limit} rows of each of dev and {args.split}, stratified "
                 "by label, seed 0" if args.limit else "") + "; not run on dev-only sets.")
    print("\n".join(suite.faithfulness_markdown(rows)))
    if skipped:
        print("\nSkipped: " + "; ".join(skipped))
    return EXIT_OK


def _eval_suite(args: argparse.Namespace) -> int:
    from .evaluation import gate, suite
    from .pipeline import run_options

    settings = get_settings()
    root = Path.cwd()
    sets = args.sets or suite.default_sets(root)
    if not sets:
        raise InputError("no article sets found; run from the project folder or pass --sets")
    backend = make_backend(settings, args.backend, args.model)
    options = run_options(settings, language=args.language)
    report = suite.Report(backend=backend.name, model=backend.model,
                              data_hash=suite.data_hash(root, sets))
    labels, skipped = suite.labels_for(backend, args.labels) if args.eval == "all" else (None, [])
    report.skipped += skipped
    report.pipeline, report.labels = asyncio.run(
        suite.evaluate_sets(sets, backend, options, labels=labels))
    if labels is not None:
        if args.seeds.is_dir():
            report.labels += asyncio.run(
                suite.evaluate_sets([args.seeds], backend, options, labels=labels))[1]
        else:
            report.skipped.append(f"hand labels of the seeds: no seed articles at {args.seeds}")
    if args.eval == "all":
        report.edits, skipped = suite.run_edits(root)
        report.skipped += skipped
        report.faithfulness, skipped = suite.run_faithfulness(args.data)
        report.skipped += skipped
    paths = suite.write_reports(report, args.out)
    print(suite.to_markdown(report), end="")
    print(f"reports: {', '.join(str(p) for p in paths)}")
    if args.eval != "all":
        return EXIT_OK
    figures = report.figures()
    if args.update_baseline:
        gate.update(args.baseline, figures, report.data_hash, report.backend,
                    allow_lower=args.allow_lower)
        print(f"floors pinned in {args.baseline}")
    if args.gate:
        verdict = gate.check(figures, gate.load(args.baseline), report.data_hash,
                             report.backend)
        for note in verdict.notes:
            print(f"gate: {note}")
        for failure in verdict.failures:
            print(f"gate: FAIL {failure}", file=sys.stderr)
        print("gate: passed" if verdict.passed else "gate: failed")
        return EXIT_OK if verdict.passed else EXIT_FAILURE
    return EXIT_OK


def _open_cache(path: Path) -> Cache | None:
    from .llm.cache import Cache

    try:
        return Cache(path)
    except (OSError, sqlite3.Error) as e:
        log.warning("cache at %s unavailable (%s); running without it", path, e)
        return None


def _write_atomically(path: Path, text: str) -> None:
    """A failed write leaves any earlier file at PATH as it was."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


class _BarProgress:
    def __init__(self, bar: tqdm) -> None:
        self.bar = bar

    def add(self, n: int) -> None:
        self.bar.total += n
        self.bar.refresh()

    def advance(self, n: int = 1) -> None:
        self.bar.update(n)


if __name__ == "__main__":
    sys.exit(main())
