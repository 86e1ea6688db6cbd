"""The one settings object: built once by the CLI from ``FINSENTRY_*`` variables, passed down."""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from pathlib import Path
from typing import Literal, get_args
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from finsentry.errors import ConfigError

_FROZEN = ConfigDict(frozen=True, extra="forbid")
Precision = Literal["int8", "fp32"]  # arithmetic of the ONNX scorer (models/onnx_scorer.py)
GpuDtype = Literal["float16", "bfloat16", "float32"]  # arithmetic of the torch scorer (models/torch_scorer.py)


class KafkaSettings(BaseModel):
    """Broker: an external cluster when ``bootstrap`` is set, else the embedded one."""

    model_config = _FROZEN
    bootstrap: str | None = None
    port: int = Field(default=19092, ge=1, le=65535)
    partitions: int = Field(default=4, ge=1, le=256)
    replication: int = Field(default=1, ge=1, le=16)  # replicas per partition when topics are created
    retention_hours: float = Field(default=168.0, gt=0)  # how long the cluster keeps records of each topic
    group: str = "finsentry-worker"


class StoreSettings(BaseModel):
    """Document store, chosen by URL scheme.

    ``sqlite:///path`` (a relative path is under ``FINSENTRY_HOME``) or Elasticsearch
    ``http(s)://host:9200[,host2:9200]``.
    """

    model_config = _FROZEN
    url: str = "sqlite:///finsentry.db"
    username: str = "elastic"
    password: SecretStr | None = None
    api_key: SecretStr | None = None
    ca_certs: Path | None = None
    verify_certs: bool = True
    index_prefix: str = Field(default="finsentry", pattern=r"^[a-z][a-z0-9_-]{0,40}$")
    retention_months: int = Field(default=0, ge=0)  # 0 keeps everything; `finsentry index prune` applies it
    request_timeout_s: float = Field(default=30.0, gt=0)
    # Elasticsearch: how long refusals for load (429/503) or a lost connection are retried before a
    # write fails (the worker then stops with 75 and replays); documents above max_doc_bytes are refused.
    retry_seconds: float = Field(default=60.0, gt=0)
    max_doc_bytes: int = Field(default=10 * 1024 * 1024, ge=1024)


class ModelSettings(BaseModel):
    """Classifier backend by URL (``local://current``, ``local://VERSION``, ``baseline://``)."""

    model_config = _FROZEN
    classifier_url: str = "local://current"
    serve: bool = False  # `finsentry up` also runs the Triton model server (classifier_url triton://127.0.0.1:P)
    registry: Path = Path("models")  # relative: under FINSENTRY_HOME
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
    # Longest a batch's first record waits for more: a backlog fills batches at once; at low load this bounds latency.
    batch_within: float = Field(default=0.1, gt=0)
    instance_id: str | None = None
    max_record_bytes: int = Field(default=1_048_576, ge=1024)
    write_retries: int = Field(default=5, ge=0)
    # A batch that failed this many times in a row (counted across restarts) is processed one record
    # at a time, and a record that still fails alone is dead-lettered (stream/poison.py).
    split_after_failures: int = Field(default=3, ge=1)
    # Records waiting on the worker's partitions this long with no batch finished: it exits (75) so its
    # supervisor starts a fresh one (stream/liveness.py).
    stall_s: float = Field(default=30.0, gt=0)


class AlertSettings(BaseModel):
    """Alert rules and their lifecycle (``alerts/``)."""

    model_config = _FROZEN
    rules: Path | None = None  # None: the rules bundled with the package (deploy/alerts.yaml is a copy)
    allowed_lateness_s: float = Field(default=60.0, ge=0)
    repeat_interval_s: float = Field(default=3600.0, gt=0)  # a firing alert is re-sent this often
    resolve_after_windows: int = Field(default=2, ge=1)  # flap control: quiet windows before resolving
    group_wait_s: float = Field(default=2.0, ge=0)  # alerts on many keys within this go out as one notification
    group: str = "finsentry-alerts"  # the detector's consumer group on news.scored
    instance_id: str | None = None  # static group membership: a restarted detector takes its slot at once
    lookback_windows: int = Field(default=12, ge=1, le=1000)  # how far back an incident's first window is sought


class WebhookSettings(BaseModel):
    """Webhook delivery to subscribers."""

    model_config = _FROZEN
    allow_networks: list[str] = Field(default_factory=list)  # CIDRs exempt from the SSRF guard
    timeout_s: float = Field(default=10.0, gt=0)
    max_attempts: int = Field(default=8, ge=1, le=50)
    backoff_s: float = Field(default=1.0, gt=0)
    max_backoff_s: float = Field(default=300.0, gt=0)
    group: str = "finsentry-deliver"  # the deliverer's consumer group on alerts
    instance_id: str | None = None  # static group membership, as for the detector


class DashboardSettings(BaseModel):
    """The Streamlit dashboard."""

    model_config = _FROZEN
    url: str = "http://127.0.0.1:8501"  # public URL, for links in webhook payloads
    address: str = "127.0.0.1"
    port: int = Field(default=8501, ge=1, le=65535)
    password: SecretStr | None = None  # required when bound beyond localhost and no OIDC is configured
    refresh_s: float = Field(default=5.0, gt=0)
    # Streamlit's OIDC login (st.login) is configured in .streamlit/secrets.toml [auth]; when true it is
    # the login used beyond localhost, else the password.
    oidc: bool = False
    enabled: bool = True  # `finsentry up` runs it


class IngestSettings(BaseModel):
    """Crawlers (``ingest/``)."""

    model_config = _FROZEN
    feeds: Path | None = None  # YAML of feeds; unset: nothing crawls
    user_agent: str = "finsentry/0.1 (+https://github.com/finsentry/finsentry)"
    timeout_s: float = Field(default=20.0, gt=0)
    max_bytes: int = Field(default=5_000_000, ge=1024)
    per_host_concurrency: int = Field(default=2, ge=1)
    per_host_interval_s: float = Field(default=1.0, ge=0)
    seen_ttl_days: float = Field(default=14.0, gt=0)
    connect_timeout_s: float = Field(default=10.0, gt=0)
    retries: int = Field(default=3, ge=0, le=10)  # on 429, 5xx and network errors
    backoff_s: float = Field(default=1.0, ge=0)  # first retry's delay; doubles, with jitter
    max_backoff_s: float = Field(default=60.0, gt=0)  # a longer Retry-After skips this poll instead
    max_redirects: int = Field(default=5, ge=0, le=20)
    robots: bool = True  # honour robots.txt
    max_articles_per_poll: int = Field(default=20, ge=0)  # full_text feeds: article pages fetched per poll
    buffer_bytes: int = Field(default=16_777_216, ge=65_536)  # unacknowledged bytes; more waits for acks


class RetrainSettings(BaseModel):
    """The offline retraining job."""

    model_config = _FROZEN
    min_labels: int = Field(default=50, ge=1)
    labels_dir: Path = Path("labels")  # relative: under FINSENTRY_HOME; label files dropped here are collected
    from_base: bool = False  # False: continue the current version; True: train from the base encoder
    # From the base encoder (also when the current version has no fp32 weights to continue, as the
    # bundled one): learn the current version's scores too, with this weight; 0: hard labels only.
    distill: float = Field(default=1.0, ge=0.0, le=10.0)
    epochs: int = Field(default=2, ge=1, le=50)
    group_by_length: bool = True  # batches of similar length: ~1.6x faster epochs, same F1 (docs/benchmarks.md)
    bf16: bool = False  # bf16 autocast: ~1.5x faster on CPUs with AVX512-BF16, same F1
    holdout_percent: int = Field(default=20, ge=1, le=90)  # of the new labels, never trained on, measured apart
    recent_docs: int = Field(default=500, ge=0, le=10_000)  # newest stored documents for the old-vs-new comparison
    # A live NVIDIA Triton model repository (relative: under FINSENTRY_HOME): a promoted version is
    # added as the next numbered folder, which Triton in --model-control-mode=poll loads. None: no export.
    triton_repository: Path | None = None


class MetricsSettings(BaseModel):
    """Prometheus metrics and health endpoints of long-running processes."""

    model_config = _FROZEN
    enabled: bool = True
    address: str = "127.0.0.1"  # 0.0.0.0 in a container, so Prometheus can scrape it
    port: int = Field(default=0, ge=0, le=65535)  # 0: pick a free port (the process logs where)


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
    alerts: AlertSettings = AlertSettings()
    webhooks: WebhookSettings = WebhookSettings()
    dashboard: DashboardSettings = DashboardSettings()
    ingest: IngestSettings = IngestSettings()
    retrain: RetrainSettings = RetrainSettings()
    metrics: MetricsSettings = MetricsSettings()

    @field_validator("log_level")
    @classmethod
    def _level(cls, value: str) -> str:
        value = value.upper()
        if value not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
            raise ValueError(f"log_level must be DEBUG, INFO, WARNING or ERROR, not {value!r}")
        return value

    @model_validator(mode="after")
    def _paths_under_home(self) -> Settings:
        # Every relative runtime path lives under FINSENTRY_HOME, so one variable moves or isolates
        # an installation. Frozen: replace the sections once, here, before anyone sees them.
        home = self.home
        url = urlsplit(self.store.url)
        if url.scheme == "sqlite" and url.path[1:] and not url.path[1:].startswith("/"):
            self._replace("store", url=f"sqlite:///{home / url.path[1:]}")
        if not self.model.registry.is_absolute():
            self._replace("model", registry=home / self.model.registry)
        if not self.retrain.labels_dir.is_absolute():
            self._replace("retrain", labels_dir=home / self.retrain.labels_dir)
        repo = self.retrain.triton_repository
        if repo is not None and not repo.is_absolute():
            self._replace("retrain", triton_repository=home / repo)
        return self

    def _replace(self, section: str, **update: object) -> None:
        object.__setattr__(self, section, getattr(self, section).model_copy(update=update))


ENV_PREFIX = "FINSENTRY_"
# Variables in our namespace that other tools read, not Settings: docker-compose's image tag
# (deploy/.env.example) and the fault suite's report folder (tests/faults).
OTHER_VARIABLES = frozenset({"FINSENTRY_IMAGE_TAG", "FINSENTRY_FAULT_REPORT"})


def setting_variables(model: type[BaseModel] = Settings, prefix: str = ENV_PREFIX) -> set[str]:
    """Every variable name that sets a field of ``model``, groups and their fields alike."""
    names: set[str] = set()
    for name, info in model.model_fields.items():
        var = f"{prefix}{name.upper()}"
        names.add(var)
        for kind in get_args(info.annotation) or (info.annotation,):
            if isinstance(kind, type) and issubclass(kind, BaseModel):
                names |= setting_variables(kind, f"{var}__")
    return names


def check_environment(environ: Mapping[str, str]) -> None:
    """Refuse ``FINSENTRY_*`` variables that name no setting, suggesting the closest one.

    Settings ignores a variable whose group is unknown (``FINSENTRY_STORE_URL``,
    ``FINSENTRY_STOR__URL``): the user would silently run with the default instead.

    Raises:
        ConfigError: one line per unknown variable, with the closest valid name.

    """
    valid = setting_variables()
    # Compared without the shared prefix, which would make every name look alike.
    tails = sorted(v.removeprefix(ENV_PREFIX) for v in valid)
    lines = []
    for var in sorted(environ):
        name = var.upper()  # Settings reads variables case-insensitively
        if not name.startswith(ENV_PREFIX) or name in valid or name in OTHER_VARIABLES:
            continue
        close = difflib.get_close_matches(name.removeprefix(ENV_PREFIX), tails, n=1, cutoff=0.6)
        hint = f"did you mean {ENV_PREFIX}{close[0]}?" if close else "no setting has a similar name"
        lines.append(f"{var} names no setting; {hint}")
    if lines:
        raise ConfigError("\n".join(lines))
