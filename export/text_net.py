"""The text classifier network: the torch module training fits and export traces.

``TextClassifierNet`` = a BERT encoder → masked mean pooling (the pooling multilingual-e5
and MiniLM were trained with) → dropout → one linear layer with an independent sigmoid
head per label → per-label calibration (``logit·scale + bias``, fitted on the dev split
after training and exported inside the graph, so ONNX outputs calibrated probabilities).
It lives in ``export`` because export traces it and nothing may import ``retrain``.
"""

from __future__ import annotations

import torch
from torch import nn
from transformers import BertModel


class TextClassifierNet(nn.Module):
    """Encoder + mean pooling + linear multi-label head + calibration; returns logits."""

    # Buffers registered in __init__; declared here so their type is Tensor, not Tensor | Module.
    calib_scale: torch.Tensor
    calib_bias: torch.Tensor

    def __init__(self, encoder: BertModel, num_labels: int, *, dropout: float = 0.1) -> None:
        super().__init__()
        self.encoder = encoder
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(encoder.config.hidden_size, num_labels)
        self.register_buffer("calib_scale", torch.ones(num_labels))
        self.register_buffer("calib_bias", torch.zeros(num_labels))

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1.0)
        logits: torch.Tensor = self.head(self.dropout(pooled))
        return logits * self.calib_scale + self.calib_bias


class ProbabilityNet(nn.Module):
    """Export wrapper: calibrated probabilities ``float32[batch, labels]``."""

    def __init__(self, net: TextClassifierNet) -> None:
        super().__init__()
        self.net = net

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.net(input_ids, attention_mask))
