"""The two-head classifier: one shared encoder pass, a sentiment head and a topic head."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn
from transformers import AutoModel


class TwoHeadClassifier(nn.Module):
    """A sentence encoder (see models/bases.py) with mean pooling and two linear heads.

    Mean pooling matches how both bases were pre-trained (sentence embeddings), so the
    heads start from a representation that is already meaningful.
    """

    def __init__(self, encoder_dir: Path, n_sentiment: int, n_topic: int, dropout: float = 0.1):
        super().__init__()
        self.encoder = AutoModel.from_pretrained(str(encoder_dir))
        hidden = int(self.encoder.config.hidden_size)
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
