"""Models whose layers the recorder can name: an MLP and a small CNN."""

from __future__ import annotations

import torch
from torch import nn

ACTIVATIONS = {"tanh": nn.Tanh, "relu": nn.ReLU, "sigmoid": nn.Sigmoid, "linear": nn.Identity}


class MLP(nn.Module):
    """Fully connected network with ``widths = [n_inputs, hidden..., n_classes]``.

    Hidden activations are modules named ``act1``, ``act2``, ...; the output
    layer ``out`` returns logits (the recorder applies the softmax).
    """

    def __init__(self, widths: list[int], activation: str = "tanh"):
        super().__init__()
        if len(widths) < 2 or any(int(w) < 1 for w in widths):
            raise ValueError(f"widths must list at least 2 positive sizes (inputs, ..., classes), got {widths}")
        if activation not in ACTIVATIONS:
            raise ValueError(f"unknown activation {activation!r}; valid: {', '.join(ACTIVATIONS)}")
        self.widths = [int(w) for w in widths]
        self.activation = activation
        self.flatten = nn.Flatten()
        for index in range(1, len(widths) - 1):
            self.add_module(f"fc{index}", nn.Linear(widths[index - 1], widths[index]))
            self.add_module(f"act{index}", ACTIVATIONS[activation]())
        self.out = nn.Linear(widths[-2], widths[-1])

    def hidden_layer_names(self) -> list[str]:
        return [f"act{index}" for index in range(1, len(self.widths) - 1)]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.flatten(x)
        for name in self.hidden_layer_names():
            x = getattr(self, name)(getattr(self, "fc" + name[3:])(x))
        return self.out(x)
