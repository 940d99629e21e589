"""Neural-network building blocks: layers (kata 03) and losses (kata 04)."""

from .layers import Dropout, Linear, Module, Sequential
from .losses import BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, MSELoss

__all__ = ["Module", "Linear", "Sequential", "Dropout",
           "MSELoss", "CrossEntropyLoss", "BCELoss", "BCEWithLogitsLoss"]
