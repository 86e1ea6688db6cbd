"""News sources and the producer that puts their items on ``news.raw``."""
