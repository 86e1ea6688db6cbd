"""Document store backends behind ``finsentry.protocols.DocumentStore``."""
