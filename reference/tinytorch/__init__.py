"""TinyTorch: a machine-learning framework you build yourself, kata by kata, in NumPy.

The package is laid out like PyTorch: ``tinytorch.core`` holds the Tensor (and, from kata
05, autograd); later katas add ``nn``, ``optim`` and ``data``.
"""
