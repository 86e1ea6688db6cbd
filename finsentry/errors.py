"""One root error and a small tree; raised at boundaries with a message a person can act on."""

from __future__ import annotations


class FinsentryError(Exception):
    """Root of every error finsentry raises on purpose."""


class ConfigError(FinsentryError):
    """Settings or a URL in them cannot be used."""


class ServiceUnavailable(FinsentryError):
    """A server (broker, store, model server) did not answer in time."""


class InvalidRecord(FinsentryError):
    """An input record cannot be parsed or validated; carries the reason for the dead letter."""


class ModelError(FinsentryError):
    """A model version is missing, broken, or refused by the registry."""


class PromotionRefused(ModelError):
    """The gate judged a candidate worse than the current model."""


class LabelFileError(FinsentryError):
    """A label file for training holds malformed lines or unknown labels."""
