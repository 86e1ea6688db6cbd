"""Composition root: the CLI, `finsentry up`, the supervisor and the factory; the only code importing every part."""
