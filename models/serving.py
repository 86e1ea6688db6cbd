"""``finsentry serve-model``: the classifier behind a real Triton server (PyTriton).

Interface (also what ``models export --triton`` writes for NVIDIA Triton):
inputs ``input_ids`` and ``attention_mask`` (INT64, [batch, tokens]); outputs
``sentiment_probs`` (FP32, [batch, 3]), ``topic_probs`` (FP32, [batch, 20]) and
``model_version`` (BYTES, [batch, 1]) so each document records the version that scored it.
"""

from __future__ import annotations

import logging
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from finsentry.errors import ConfigError, ModelError
from models.classifiers import CurrentModel
from models.ensemble import is_ensemble
from models.labels import SENTIMENTS, TOPICS

log = logging.getLogger(__name__)
MODEL_NAME = "finsentry"
MAX_BATCH = 256


def serve_model_argv(grpc_port: int, http_port: int, metrics_port: int) -> list[str]:
    """The command that runs ``finsentry serve-model`` on these ports with this Python."""
    return [
        sys.executable,
        "-m",
        "finsentry.app.cli",
        "serve-model",
        "--grpc-port",
        str(grpc_port),
        "--http-port",
        str(http_port),
        "--metrics-port",
        str(metrics_port),
    ]


def check_numpy(version: str = np.__version__) -> None:
    """Refuse numpy 2: PyTriton 0.7.0 (which pins numpy < 2) then answers with empty outputs.

    Reproduced with Python 3.12 and numpy 2.4.6 / 2.5.2: every output of every response
    arrives with zero bytes (docs/benchmarks.md, "GPU"); numpy 1.26.4 answers correctly.

    Raises:
        ConfigError: numpy 2 or later is installed.
    """
    if int(version.split(".")[0]) >= 2:
        raise ConfigError(
            f"serve-model needs numpy < 2 (PyTriton 0.7.0's pin), found {version}: "
            "with numpy 2 its Python backend answers with empty outputs; install numpy==1.26.4"
        )


def make_infer(model: CurrentModel) -> Any:
    """The batched inference function Triton calls with dynamically batched requests."""
    from pytriton.decorators import batch

    @batch
    def infer(input_ids: np.ndarray, attention_mask: np.ndarray) -> dict[str, np.ndarray]:
        scorer = model.get()  # may swap in a newly promoted version between batches
        scores = scorer.score_ids(input_ids, attention_mask)
        version = np.full((len(input_ids), 1), scorer.version.encode(), dtype=object)
        return {
            "sentiment_probs": scores.sentiment.astype(np.float32),
            "topic_probs": scores.topic.astype(np.float32),
            "model_version": version,
        }

    return infer


LOAD_ATTEMPTS = 3


def serve(
    model: CurrentModel,
    host: str,
    http_port: int,
    grpc_port: int,
    metrics_port: int,
    workspace: Path,
    queue_delay_us: int = 2000,
    instances: int = 1,
) -> None:
    """Run tritonserver with the model bound until SIGINT/SIGTERM.

    ``instances`` model instances run side by side, each in its own thread of this process.
    A model load that fails is tried again with a fresh server, up to ``LOAD_ATTEMPTS`` times:
    with several instances PyTriton's later instances fetch their config from the first one's
    handshake socket and, on a busy host, can find it not yet listening (connection refused).

    Raises:
        ModelError: the version to serve is an ensemble (it scores text, not token ids).
        ConfigError: numpy 2 is installed (see :func:`check_numpy`).
    """
    from pytriton.triton import TritonConfig
    from tritonclient.utils import InferenceServerException

    check_numpy()
    first = model.get()
    if is_ensemble(first.meta):
        raise ModelError(f"{first.version} is an ensemble: Triton serves one model's token ids; pin another version")
    config = TritonConfig(
        http_address=host,
        http_port=http_port,
        grpc_address=host,
        grpc_port=grpc_port,
        metrics_port=metrics_port,
        exit_on_error=True,
    )
    for attempt in range(1, LOAD_ATTEMPTS + 1):
        try:
            _serve_once(model, config, workspace, queue_delay_us, instances)
            return
        except InferenceServerException as exc:
            if attempt == LOAD_ATTEMPTS:
                raise
            log.warning("model load failed (attempt %d of %d), starting again: %s", attempt, LOAD_ATTEMPTS, exc)
            time.sleep(2.0 * attempt)  # let the stopped server release its ports


def _serve_once(model: CurrentModel, config: Any, workspace: Path, queue_delay_us: int, instances: int) -> None:
    from pytriton.model_config import DynamicBatcher, ModelConfig, Tensor
    from pytriton.triton import Triton

    # PyTriton refuses an existing workspace, and a killed run leaves one behind: use a
    # fresh folder per run and remove it on the way out.
    run_dir = workspace / f"run-{os.getpid()}"
    shutil.rmtree(run_dir, ignore_errors=True)
    try:
        with Triton(config=config, workspace=run_dir) as triton:
            triton.bind(
                model_name=MODEL_NAME,
                infer_func=[make_infer(model) for _ in range(instances)],
                inputs=[
                    Tensor(name="input_ids", dtype=np.int64, shape=(-1,)),
                    Tensor(name="attention_mask", dtype=np.int64, shape=(-1,)),
                ],
                outputs=[
                    Tensor(name="sentiment_probs", dtype=np.float32, shape=(len(SENTIMENTS),)),
                    Tensor(name="topic_probs", dtype=np.float32, shape=(len(TOPICS),)),
                    Tensor(name="model_version", dtype=bytes, shape=(1,)),
                ],
                config=ModelConfig(
                    max_batch_size=MAX_BATCH, batcher=DynamicBatcher(max_queue_delay_microseconds=queue_delay_us)
                ),
                strict=True,
            )
            log.info("serving %s on grpc %s:%d, http %s:%d", MODEL_NAME, config.grpc_address, config.grpc_port,
                     config.http_address, config.http_port)  # fmt: skip
            triton.serve()
    finally:
        shutil.rmtree(run_dir, ignore_errors=True)
