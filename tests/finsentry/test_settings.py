from __future__ import annotations

import pytest
from pydantic import ValidationError

from finsentry.app.factory import make_classifier, make_store, sqlite_path
from finsentry.errors import ConfigError
from finsentry.settings import ModelSettings, Settings, StoreSettings, check_environment, setting_variables


def test_nested_env_variables_are_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FINSENTRY_KAFKA__BOOTSTRAP", "kafka-1:9092")
    monkeypatch.setenv("FINSENTRY_WORKER__BATCH_SIZE", "128")
    monkeypatch.setenv("FINSENTRY_STORE__PASSWORD", "s3cret")
    s = Settings()
    assert s.kafka.bootstrap == "kafka-1:9092"
    assert s.worker.batch_size == 128
    assert s.store.password is not None and s.store.password.get_secret_value() == "s3cret"
    assert "s3cret" not in repr(s)


def test_gpu_devices_are_named_like_torch(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FINSENTRY_MODEL__DEVICE", "cuda:1")
    assert Settings().model.device == "cuda:1"


def test_settings_are_frozen() -> None:
    s = Settings()
    with pytest.raises(ValidationError):
        s.log_level = "DEBUG"


@pytest.mark.parametrize(
    ("var", "value"),
    [
        ("FINSENTRY_WORKER__BATCH_SIZE", "0"),
        ("FINSENTRY_KAFKA__PORT", "70000"),
        ("FINSENTRY_LOG_LEVEL", "loud"),
        ("FINSENTRY_WORKER__NOPE", "1"),
        ("FINSENTRY_MODEL__DEVICE", "gpu"),
        ("FINSENTRY_MODEL__GPU_DTYPE", "int4"),
        ("FINSENTRY_MODEL__SERVE_INSTANCES", "0"),
    ],
)
def test_bad_config_is_a_clear_error(monkeypatch: pytest.MonkeyPatch, var: str, value: str) -> None:
    monkeypatch.setenv(var, value)
    with pytest.raises(ValidationError):
        Settings()


def test_unknown_backend_schemes_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="unknown store URL scheme 'mongo'"):
        make_store(Settings(store=StoreSettings(url="mongo://x")))
    with pytest.raises(ConfigError, match="unknown classifier URL scheme 'gpt'"):
        make_classifier(Settings(model=ModelSettings(classifier_url="gpt://x")))


def test_sqlite_paths() -> None:
    assert str(sqlite_path("sqlite:///var/x.db")) == "var/x.db"
    assert str(sqlite_path("sqlite:////abs/x.db")) == "/abs/x.db"
    with pytest.raises(ConfigError):
        sqlite_path("sqlite://")


@pytest.mark.parametrize(
    ("var", "suggestion"),
    [
        ("FINSENTRY_STORE_URL", "FINSENTRY_STORE__URL"),
        ("FINSENTRY_STOR__URL", "FINSENTRY_STORE__URL"),
        ("FINSENTRY_KAFKA_PORT", "FINSENTRY_KAFKA__PORT"),
        ("finsentry_model__precison", "FINSENTRY_MODEL__PRECISION"),
        ("FINSENTRY_STATUS_EVRY", "FINSENTRY_STATUS_EVERY"),
    ],
)
def test_unknown_variables_are_refused_with_the_closest_name(var: str, suggestion: str) -> None:
    with pytest.raises(ConfigError) as err:
        check_environment({var: "x", "FINSENTRY_HOME": "/tmp/x", "PATH": "/bin"})
    assert str(err.value) == f"{var} names no setting; did you mean {suggestion}?"


def test_every_settings_field_is_a_known_variable() -> None:
    names = setting_variables()
    assert {"FINSENTRY_HOME", "FINSENTRY_KAFKA", "FINSENTRY_KAFKA__PORT", "FINSENTRY_METRICS__PORT"} <= names
    check_environment(dict.fromkeys(names, "x"))  # every real name passes
    check_environment({"FINSENTRY_IMAGE_TAG": "0.1.0"})  # docker-compose's, not a setting, but ours
    with pytest.raises(ConfigError, match="FINSENTRY_QQQQ names no setting; no setting has a similar name"):
        check_environment({"FINSENTRY_QQQQ": "1"})
