"""TinyTorch: a machine-learning framework you build yourself, kata by kata, in NumPy.

The package is laid out like PyTorch: ``tinytorch.core`` holds the Tensor (and, from kata
05, autograd); later katas add ``nn``, ``optim``, ``data`` and ``systems`` (katas 14-20).
``tinytorch.profiling`` is the TinyTorch paper's path to the profiler of kata 14, which
lives in ``tinytorch.systems.profiling``.
"""
