"""Neural-network building blocks: layers (kata 03) and losses (kata 04)."""

from .layers import Dropout, Linear, Module, Sequential
from .losses import BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, MSELoss

__all__ = ["Module", "Linear", "Sequential", "Dropout",
           "MSELoss", "CrossEntropyLoss", "BCELoss", "BCEWithLogitsLoss"]

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
