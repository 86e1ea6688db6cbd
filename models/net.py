"""The two-head classifier: one shared encoder pass, a sentiment head and a topic head."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn
from transformers import AutoModel


class TwoHeadClassifier(nn.Module):
    """A sentence encoder (see models/bases.py) with mean pooling and two linear heads.

    Mean pooling matches how both bases were pre-trained (sentence embeddings), so the
    heads start from a representation that is already meaningful.

    Args:
        encoder: a base encoder's folder (its pre-trained weights are loaded) or an encoder
            module already built (``models/torch_scorer.py`` fills one from a version's ONNX file).
        n_sentiment: sentiment classes.
        n_topic: topic classes.
        dropout: dropout before the heads (training only).
    """

    def __init__(self, encoder: Path | nn.Module, n_sentiment: int, n_topic: int, dropout: float = 0.1):
        super().__init__()
        module: Any = AutoModel.from_pretrained(str(encoder)) if isinstance(encoder, Path) else encoder
        self.encoder = module
        hidden = int(module.config.hidden_size)
        self.dropout = nn.Dropout(dropout)
        self.sentiment = nn.Linear(hidden, n_sentiment)
        self.topic = nn.Linear(hidden, n_topic)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Return (sentiment logits, topic logits) for a padded batch."""
        hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1.0)
        pooled = self.dropout(pooled)
        return self.sentiment(pooled), self.topic(pooled)
