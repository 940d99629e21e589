"""Optimizers (kata 06): the rules that update a model's parameters from their gradients."""

from .optimizers import SGD, Adam, AdamW, Optimizer

__all__ = ["SGD", "Adam", "AdamW", "Optimizer"]
