"""Models whose layers the recorder can find by name: an MLP and a small CNN.

Both return logits (the recorder applies the softmax to the output layer) and
list their recordable hidden activation modules, in forward order, with
``hidden_layer_names()``. Any other ``nn.Module`` also works with the recorder
when its layers are named explicitly.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence

import torch
from torch import nn

ACTIVATIONS = {"tanh": nn.Tanh, "relu": nn.ReLU, "sigmoid": nn.Sigmoid, "linear": nn.Identity}
MODEL_KINDS = ("mlp", "cnn")
DEFAULT_ACTIVATIONS = {"mlp": "tanh", "cnn": "relu"}

CNN_DEFAULT_CHANNELS = (8, 16)
CNN_DEFAULT_WIDTHS = (64,)
CNN_KERNEL_SIZE = 3
CNN_PADDING = 1  # keeps height and width through each 3 x 3 convolution
CNN_POOL_SIZE = 2


def _check_sizes(values, name: str, min_count: int) -> list[int]:
    """Return ``values`` as a list of ints after checking that it lists at least ``min_count`` positive integers."""
    if isinstance(values, (str, bytes)) or not isinstance(values, Sequence):
        raise TypeError(f"{name} must be a list of positive integers, got {values!r}")
    invalid = [value for value in values if isinstance(value, bool) or not isinstance(value, numbers.Integral)]
    if invalid or any(value < 1 for value in values):
        raise ValueError(f"{name} must contain only positive integers, got {list(values)}")
    if len(values) < min_count:
        raise ValueError(f"{name} must list at least {min_count} positive integers, got {list(values)}")
    return [int(value) for value in values]


def _check_count(value, name: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"{name} must be an integer of at least {minimum}, got {value!r}")
    return int(value)


def _check_activation(activation) -> str:
    if not isinstance(activation, str) or activation not in ACTIVATIONS:
        raise ValueError(f"unknown activation {activation!r}; valid: {', '.join(ACTIVATIONS)}")
    return activation


class MLP(nn.Module):
    """Fully connected network with ``widths = [n_inputs, hidden..., n_classes]``.

    Modules are named ``fc1``, ``act1``, ``fc2``, ``act2``, ... for the hidden layers
    and ``out`` for the output layer, which returns logits. Inputs of any shape
    ``(n_samples, ...)`` are flattened to ``(n_samples, n_inputs)``.

    Parameters
    ----------
    widths : list of int
        Layer sizes from the input to the output, at least two.
    activation : {"tanh", "relu", "sigmoid", "linear"}
        Activation of every hidden layer; "linear" is the identity.
    """

    def __init__(self, widths: list[int], activation: str = "tanh"):
        super().__init__()
        self.widths = _check_sizes(widths, "widths (inputs, hidden..., classes)", min_count=2)
        self.activation = _check_activation(activation)

        self.flatten = nn.Flatten()
        for index in range(1, len(self.widths) - 1):
            self.add_module(f"fc{index}", nn.Linear(self.widths[index - 1], self.widths[index]))
            self.add_module(f"act{index}", ACTIVATIONS[activation]())
        self.out = nn.Linear(self.widths[-2], self.widths[-1])

    def hidden_layer_names(self) -> list[str]:
        """Names of the hidden activation modules in forward order: ``["act1", "act2", ...]``."""
        return [f"act{index}" for index in range(1, len(self.widths) - 1)]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.flatten(x)
        for index in range(1, len(self.widths) - 1):
            x = getattr(self, f"act{index}")(getattr(self, f"fc{index}")(x))
        return self.out(x)


class CNN(nn.Module):
    """Small convolutional network: conv-activation-pool blocks, then fully connected layers.

    Each block is a 3 x 3 convolution with padding 1, the activation and a 2 x 2
    max pool, so height and width halve (rounded down) per block. Modules are named
    ``conv1``, ``conv_act1``, ``pool1``, ``conv2``, ... for the blocks, ``fc1``,
    ``act1``, ... for the hidden fully connected layers, and ``out`` for the output
    layer, which returns logits. The defaults give conv 1->8, pool, conv 8->16,
    pool, fc 784->64 and out 64->10 for 28 x 28 grey-scale images.

    Parameters
    ----------
    input_shape : tuple of int
        ``(channels, height, width)`` of one input image.
    n_classes : int
        Number of output logits.
    channels : list of int
        Output channels of each block; one block per entry.
    widths : list of int
        Widths of the hidden fully connected layers; may be empty.
    activation : {"relu", "tanh", "sigmoid", "linear"}
        Activation of every hidden layer, convolutional and fully connected.
    """

    def __init__(
        self,
        input_shape: tuple[int, int, int] = (1, 28, 28),
        n_classes: int = 10,
        channels: Sequence[int] = CNN_DEFAULT_CHANNELS,
        widths: Sequence[int] = CNN_DEFAULT_WIDTHS,
        activation: str = "relu",
    ):
        super().__init__()
        self.input_shape = tuple(_check_sizes(input_shape, "input_shape", min_count=1))
        if len(self.input_shape) != 3:
            raise ValueError(
                f"input_shape must be (channels, height, width) for a CNN, got {self.input_shape}; "
                "give images as (n_samples, channels, height, width)"
            )
        self.n_classes = _check_count(n_classes, "n_classes", minimum=1)
        self.channels = _check_sizes(channels, "channels", min_count=1)
        self.widths = _check_sizes(widths, "widths", min_count=0)
        self.activation = _check_activation(activation)

        n_channels, height, width = self.input_shape
        shrink = CNN_POOL_SIZE ** len(self.channels)
        if height < shrink or width < shrink:
            raise ValueError(
                f"input_shape {self.input_shape} is too small for {len(self.channels)} pooling blocks: "
                f"height and width must be at least {shrink}; use fewer channels entries or larger images"
            )

        in_channels = n_channels
        for index, out_channels in enumerate(self.channels, start=1):
            self.add_module(f"conv{index}", nn.Conv2d(in_channels, out_channels, CNN_KERNEL_SIZE, padding=CNN_PADDING))
            self.add_module(f"conv_act{index}", ACTIVATIONS[activation]())
            self.add_module(f"pool{index}", nn.MaxPool2d(CNN_POOL_SIZE))
            in_channels = out_channels
            height, width = height // CNN_POOL_SIZE, width // CNN_POOL_SIZE

        self.flatten = nn.Flatten()
        fc_sizes = [in_channels * height * width, *self.widths]
        for index in range(1, len(fc_sizes)):
            self.add_module(f"fc{index}", nn.Linear(fc_sizes[index - 1], fc_sizes[index]))
            self.add_module(f"act{index}", ACTIVATIONS[activation]())
        self.out = nn.Linear(fc_sizes[-1], self.n_classes)

    def hidden_layer_names(self) -> list[str]:
        """Names of the hidden activation modules in forward order: ``conv_act1``, ..., then ``act1``, ...

        The convolutional ones output ``(n_samples, channels, height, width)``, the
        others ``(n_samples, width)``.
        """
        conv_names = [f"conv_act{index}" for index in range(1, len(self.channels) + 1)]
        fc_names = [f"act{index}" for index in range(1, len(self.widths) + 1)]
        return conv_names + fc_names

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for index in range(1, len(self.channels) + 1):
            x = getattr(self, f"conv{index}")(x)
            x = getattr(self, f"conv_act{index}")(x)
            x = getattr(self, f"pool{index}")(x)
        x = self.flatten(x)
        for index in range(1, len(self.widths) + 1):
            x = getattr(self, f"act{index}")(getattr(self, f"fc{index}")(x))
        return self.out(x)


def _construct(kind, input_shape, n_classes, widths, activation, channels) -> nn.Module:
    if kind == "mlp":
        if channels is not None:
            raise ValueError(f"channels applies only to kind='cnn', got channels={channels!r} with kind='mlp'")
        if widths is None:
            raise ValueError("widths (the hidden layer sizes) is required for kind='mlp', e.g. widths=[256, 128]")
        hidden = _check_sizes(widths, "widths (hidden layer sizes)", min_count=0)
        return MLP([math.prod(input_shape), *hidden, n_classes], activation)

    return CNN(
        input_shape,
        n_classes,
        channels=CNN_DEFAULT_CHANNELS if channels is None else channels,
        widths=CNN_DEFAULT_WIDTHS if widths is None else widths,
        activation=activation,
    )


def build_model(
    kind: str,
    input_shape: Sequence[int],
    n_classes: int,
    widths: Sequence[int] | None = None,
    activation: str | None = None,
    channels: Sequence[int] | None = None,
    seed: int | None = None,
) -> nn.Module:
    """Build the model that a config's ``[model]`` table describes.

    Parameters
    ----------
    kind : {"mlp", "cnn"}
        :class:`MLP` or :class:`CNN`.
    input_shape : sequence of int
        Shape of one input sample, e.g. ``Dataset.input_shape``; the MLP takes
        ``prod(input_shape)`` inputs, the CNN needs ``(channels, height, width)``.
    n_classes : int
        Number of output logits, at least 2.
    widths : sequence of int, optional
        Hidden fully connected layer sizes only (not inputs or classes). Required
        for "mlp"; for "cnn" it defaults to ``[64]``.
    activation : {"tanh", "relu", "sigmoid", "linear"}, optional
        Activation of every hidden layer. None takes the model's default: "tanh"
        for "mlp", "relu" for "cnn".
    channels : sequence of int, optional
        Output channels of the CNN's conv blocks, default ``[8, 16]``; only for "cnn".
    seed : int, optional
        When given, the weights are initialised from ``torch.manual_seed(seed)``
        inside a forked generator, so the global torch generator is left unchanged.

    Returns
    -------
    torch.nn.Module
        The model, returning logits of shape ``(n_samples, n_classes)``.
    """
    if not isinstance(kind, str) or kind not in MODEL_KINDS:
        raise ValueError(f"unknown model kind {kind!r}; valid kinds: {', '.join(MODEL_KINDS)}")
    input_shape = tuple(_check_sizes(input_shape, "input_shape", min_count=1))
    n_classes = _check_count(n_classes, "n_classes", minimum=2)
    activation = DEFAULT_ACTIVATIONS[kind] if activation is None else activation

    if seed is None:
        return _construct(kind, input_shape, n_classes, widths, activation, channels)
    seed = _check_count(seed, "seed (or None)", minimum=0)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return _construct(kind, input_shape, n_classes, widths, activation, channels)
