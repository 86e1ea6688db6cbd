"""finsentry core: settings, schemas, errors, topic names and the part protocols."""

__version__ = "0.1.0"
