"""Neural-network building blocks: layers (kata 03) and losses (kata 04), then the spatial
(kata 09), embedding (11), attention (12) and transformer (13) layers.

A few names exist twice, so that the import paths of the TinyTorch paper work as well as
ours (tests/test_paper_paths.py):

- the activations of kata 02 (``Sigmoid``, ``ReLU``...) are also here, as in ``torch.nn``;
- ``Attention`` is :class:`MultiHeadAttention` (kata 12) and ``Transformer`` is
  :class:`GPT` (kata 13): the same classes, with our constructor arguments;
- ``tinytorch.nn.conv`` is the module ``tinytorch.nn.spatial`` (kata 09): the paper names
  the module after convolution, we after everything it holds (pooling and batch
  normalization too).
"""

import sys

from ..core.activations import GELU, LogSoftmax, ReLU, Sigmoid, Softmax, Tanh
from .layers import Dropout, Linear, Module, Sequential
from .losses import BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, MSELoss

__all__ = ["ReLU", "Sigmoid", "Tanh", "GELU", "Softmax", "LogSoftmax",
           "Module", "Linear", "Sequential", "Dropout",
           "MSELoss", "CrossEntropyLoss", "BCELoss", "BCEWithLogitsLoss"]

from . import spatial
from .spatial import AvgPool2d, BatchNorm2d, Conv2d, Flatten, MaxPool2d

__all__ += ["Conv2d", "MaxPool2d", "AvgPool2d", "BatchNorm2d", "Flatten"]

from .embeddings import (Embedding, PositionalEmbedding, SinusoidalPositionalEncoding,
                         embedding_lookup, sinusoidal_positions)
from .attention import (MultiHeadAttention, causal_mask, masked_softmax, padding_mask,
                        scaled_dot_product_attention)
from .transformers import GPT, MLP, LayerNorm, TransformerBlock, language_model_loss

__all__ += ["Embedding", "PositionalEmbedding", "SinusoidalPositionalEncoding",
            "embedding_lookup", "sinusoidal_positions",
            "MultiHeadAttention", "scaled_dot_product_attention", "causal_mask", "padding_mask",
            "masked_softmax",
            "LayerNorm", "MLP", "TransformerBlock", "GPT", "language_model_loss"]

# The paper's names for the same objects.
Attention = MultiHeadAttention
Transformer = GPT
conv = spatial
# Registered as a submodule too, so that `import tinytorch.nn.conv` and
# `from tinytorch.nn.conv import Conv2d` find it without a file of its own.
sys.modules[f"{__name__}.conv"] = spatial

__all__ += ["Attention", "Transformer"]
