"""The one settings object: built once by the CLI from ``FINSENTRY_*`` variables, passed down."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

_FROZEN = ConfigDict(frozen=True, extra="forbid")
Precision = Literal["int8", "fp32"]  # arithmetic of the ONNX scorer (models/onnx_scorer.py)
GpuDtype = Literal["float16", "bfloat16", "float32"]  # arithmetic of the torch scorer (models/torch_scorer.py)


class KafkaSettings(BaseModel):
    """Broker: an external cluster when ``bootstrap`` is set, else the embedded one."""

    model_config = _FROZEN
    bootstrap: str | None = None
    port: int = Field(default=19092, ge=1, le=65535)
    partitions: int = Field(default=4, ge=1, le=256)
    group: str = "finsentry-worker"


class StoreSettings(BaseModel):
    """Document store, chosen by URL scheme (``sqlite:///path``)."""

    model_config = _FROZEN
    url: str = "sqlite:///var/finsentry.db"
    password: SecretStr | None = None


class ModelSettings(BaseModel):
    """Classifier backend by URL (``local://current``, ``local://VERSION``, ``baseline://``)."""

    model_config = _FROZEN
    classifier_url: str = "local://current"
    serve: bool = False  # `finsentry up` also runs the Triton model server (classifier_url triton://127.0.0.1:P)
    registry: Path = Path("var/models")
    reload_seconds: float = Field(default=10.0, gt=0)
    threads: int = Field(default=0, ge=0)  # documents scored in parallel, one core each; 0: one per core
    # int8: integer matrix products, ~3x the CPU throughput, weighted F1 within noise of fp32
    # (docs/benchmarks.md); fp32: exact float arithmetic. Either way a score depends on its document only.
    precision: Precision = "int8"
    # cpu: ONNX Runtime (above). cuda / cuda:N: torch on that GPU, weights rebuilt from the same
    # ONNX file, in gpu_dtype arithmetic; for `finsentry serve-model` on a GPU machine.
    device: str = Field(default="cpu", pattern=r"^(cpu|cuda(:\d+)?)$")
    gpu_dtype: GpuDtype = "float16"
    # Model instances Triton runs side by side (serve-model): on a GPU, one instance's batch is
    # copied and post-processed while another's runs.
    serve_instances: int = Field(default=1, ge=1, le=16)


class WorkerSettings(BaseModel):
    """Stream worker tuning."""

    model_config = _FROZEN
    count: int = Field(default=1, ge=1, le=64)
    batch_size: int = Field(default=64, ge=1, le=4096)
    batch_within: float = Field(default=0.5, gt=0)
    instance_id: str | None = None
    max_record_bytes: int = Field(default=1_048_576, ge=1024)
    write_retries: int = Field(default=5, ge=0)


class Settings(BaseSettings):
    """Everything configurable. Frozen: parts receive it and never change it."""

    model_config = SettingsConfigDict(env_prefix="FINSENTRY_", env_nested_delimiter="__", frozen=True, extra="forbid")
    home: Path = Path("var")
    log_level: str = "INFO"
    status_every: float = Field(default=5.0, gt=0)
    kafka: KafkaSettings = KafkaSettings()
    store: StoreSettings = StoreSettings()
    model: ModelSettings = ModelSettings()
    worker: WorkerSettings = WorkerSettings()

    @field_validator("log_level")
    @classmethod
    def _level(cls, value: str) -> str:
        value = value.upper()
        if value not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
            raise ValueError(f"log_level must be DEBUG, INFO, WARNING or ERROR, not {value!r}")
        return value
