"""Activates the TinyTorch kata engine for every pytest run in this repository."""

pytest_plugins = ["pytest_tinytorch.plugin"]
