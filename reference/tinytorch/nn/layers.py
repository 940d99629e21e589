"""Kata 03: layers, the building blocks a network is assembled from.

A ``Module`` is anything with parameters and a ``forward``. Its job is bookkeeping: every
learnable Tensor (``requires_grad=True``) and every sub-Module assigned as an attribute is
registered automatically, so ``model.parameters()`` finds all the weights of a network of
any depth and an optimizer (kata 06) can update them without knowing the architecture.

Layers compute ONLY with Tensor operations (``x @ self.weight + self.bias``, ``x * mask``),
never with NumPy on ``.data``: once kata 05 teaches the Tensor to record its operations,
every layer here becomes differentiable without changing a line.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from ..core.tensor import Tensor


class Module:
    """Base class of every layer and model.

    Assigning an attribute registers it (see ``__setattr__``)::

        class TwoLayer(Module):
            def __init__(self):
                super().__init__()           # creates the registries: call it first
                self.hidden = Linear(4, 8)   # a sub-Module: registered as "hidden"
                self.out = Linear(8, 2)      # registered as "out"

            def forward(self, x):
                return self.out(ReLU()(self.hidden(x)))

    ``TwoLayer().named_parameters()`` then yields ``hidden.weight``, ``hidden.bias``,
    ``out.weight``, ``out.bias``. ``training`` is True until ``eval()`` is called.

    Some state is not learned but must still be saved with the model, such as the running
    statistics of BatchNorm (kata 09): a layer declares such an array with
    ``self.register_buffer("running_mean", np.zeros(n))``. Buffers get no gradient and no
    optimizer step, but ``state_dict()`` saves them and ``load_state_dict()`` restores them.
    """

    _parameters: dict[str, Tensor]
    _modules: dict[str, Module]
    _buffer_names: list[str]
    training: bool

    def __init__(self) -> None:
        # name -> parameter Tensor and name -> sub-Module, in assignment order. Set with
        # object.__setattr__ because our own __setattr__ needs them to exist.
        object.__setattr__(self, "_parameters", {})
        object.__setattr__(self, "_modules", {})
        object.__setattr__(self, "_buffer_names", [])
        object.__setattr__(self, "training", True)

    def register_buffer(self, name: str, value: np.ndarray) -> None:
        """Keep the array ``value`` as the attribute ``name`` and save it in ``state_dict()``.

        The buffer is found by name whenever it is read, so the layer may update it in
        place (``self.running_mean *= 0.9``) or assign a new array to it.
        """
        if name not in self._buffer_names:
            self._buffer_names.append(name)
        setattr(self, name, value)

    def named_buffers(self) -> Iterator[tuple[str, np.ndarray]]:
        """Yield ``(dotted name, array)`` for every buffer, in the order of ``named_modules()``."""
        for module_name, module in self.named_modules():
            for name in module._buffer_names:
                yield (f"{module_name}.{name}" if module_name else name), getattr(module, name)

    def __setattr__(self, name: str, value: Any) -> None:
        """Set the attribute and keep the registries up to date.

        - a Tensor with ``requires_grad=True`` goes into ``self._parameters[name]``;
        - a ``Module`` goes into ``self._modules[name]``;
        - anything else is a plain attribute.

        Assigning a name again replaces its entry (it keeps its place in the order; it is
        never registered twice), and assigning a non-parameter to a registered name
        removes it from the registries. If the registries do not exist yet (a subclass
        assigned an attribute before calling ``super().__init__()``), raise an
        ``AttributeError`` whose message tells the author to call ``super().__init__()`` first.
        """
        # BEGIN SOLUTION
        if "_parameters" not in self.__dict__:
            raise AttributeError(f"cannot assign {name!r} before Module.__init__() has run: call "
                                 f"super().__init__() first in {type(self).__name__}.__init__")
        registry: dict[str, Any] | None
        if isinstance(value, Tensor) and value.requires_grad:
            registry = self._parameters
        elif isinstance(value, Module):
            registry = self._modules
        else:
            registry = None
        for table in (self._parameters, self._modules):
            if table is not registry:
                table.pop(name, None)
        if registry is not None:
            registry[name] = value
        object.__setattr__(self, name, value)
        # END SOLUTION

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        """What the module computes; every subclass defines it."""
        raise NotImplementedError(f"{type(self).__name__} must define forward()")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """``module(x)`` runs ``module.forward(x)``."""
        # BEGIN SOLUTION
        return self.forward(*args, **kwargs)
        # END SOLUTION

    def named_modules(self, prefix: str = "") -> Iterator[tuple[str, Module]]:
        """Yield ``(dotted name, module)`` for this module (named ``prefix``, "" at the top)
        and then, depth first, every sub-module in assignment order: ``""``, ``"encoder"``,
        ``"encoder.0"``, ... A module registered under two names appears under each.
        """
        # BEGIN SOLUTION
        yield prefix, self
        for name, module in self._modules.items():
            yield from module.named_modules(f"{prefix}.{name}" if prefix else name)
        # END SOLUTION

    def named_parameters(self) -> Iterator[tuple[str, Tensor]]:
        """Yield ``(dotted name, parameter)`` for this module and all its sub-modules.

        Modules come in the order of ``named_modules()``, and each module's own parameters
        in assignment order, with names joined by dots: ``"weight"``, ``"encoder.weight"``,
        ``"layers.0.bias"``. A Tensor shared by two modules (weight tying) is yielded once,
        under the first name it is found with: an optimizer must not update the same weight
        twice.
        """
        # BEGIN SOLUTION
        seen: set[int] = set()
        for module_name, module in self.named_modules():
            for name, parameter in module._parameters.items():
                if id(parameter) not in seen:
                    seen.add(id(parameter))
                    yield (f"{module_name}.{name}" if module_name else name), parameter
        # END SOLUTION

    def parameters(self) -> list[Tensor]:
        """Every distinct parameter, in the order of ``named_parameters()``."""
        # BEGIN SOLUTION
        return [parameter for _, parameter in self.named_parameters()]
        # END SOLUTION

    def train(self, mode: bool = True) -> Module:
        """Set ``training`` to ``mode`` here and in every sub-module, at any depth.

        Layers such as Dropout behave differently in training and evaluation, and they sit
        deep inside a model: the flag has to reach them. Returns ``self``.
        """
        # BEGIN SOLUTION
        for _, module in self.named_modules():
            module.training = mode
        return self
        # END SOLUTION

    def eval(self) -> Module:
        """Evaluation mode: the same as ``train(False)``."""
        # BEGIN SOLUTION
        return self.train(False)
        # END SOLUTION

    def state_dict(self) -> dict[str, np.ndarray]:
        """``{dotted name: copy of the array}`` for every parameter, then every buffer, to
        save or restore the model.

        The names are those of ``named_parameters()`` and then ``named_buffers()``: a
        parameter shared by two modules is saved once, under its first name. Copies, not
        views: a checkpoint must not change when training goes on.
        """
        # BEGIN SOLUTION
        state = {name: parameter.data.copy() for name, parameter in self.named_parameters()}
        state.update((name, buffer.copy()) for name, buffer in self.named_buffers())
        return state
        # END SOLUTION

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        """Copy the arrays of ``state`` into the parameters and buffers of the same names.

        The names must match exactly and every array must have its target's shape.
        Otherwise raise ``ValueError`` naming the missing keys, the unexpected keys and the
        mismatched shapes, and change nothing: check everything before copying anything.
        Values are copied into the existing arrays (``np.copyto``), so the parameters stay
        the same Tensor objects and the buffers the same arrays, with their own dtype.
        """
        # BEGIN SOLUTION
        targets = {name: parameter.data for name, parameter in self.named_parameters()}
        targets.update(self.named_buffers())
        problems = []
        missing = [name for name in targets if name not in state]
        unexpected = [name for name in state if name not in targets]
        if missing:
            problems.append(f"missing keys {missing}")
        if unexpected:
            problems.append(f"unexpected keys {unexpected}")
        for name, target in targets.items():
            if name in state and np.shape(state[name]) != target.shape:
                problems.append(f"shape mismatch for {name!r}: the model has {target.shape}, "
                                f"the state has {np.shape(state[name])}")
        if problems:
            raise ValueError(f"cannot load the state into {type(self).__name__}: " + "; ".join(problems))
        for name, target in targets.items():
            np.copyto(target, state[name], casting="same_kind")
        # END SOLUTION


class Linear(Module):
    """A fully connected layer: ``y = x @ weight + bias``.

    ``weight`` has shape ``(in_features, out_features)`` so that a batch of row vectors
    ``x`` of shape ``(batch, in_features)`` multiplies it directly (PyTorch stores the
    transpose). ``bias`` has shape ``(out_features,)`` and broadcasts over every leading
    dimension. Both are float32 Tensors with ``requires_grad=True``, assigned in that order
    (``weight``, then ``bias``); with ``bias=False`` there is no ``bias`` parameter and the
    attribute is ``None``.

    Initialisation: He (Kaiming) uniform, weights drawn from U(-b, b) with
    ``b = sqrt(6 / in_features)``, and the bias starts at zero. That uniform distribution
    has variance ``b**2 / 3 = 2 / in_features``. A ReLU zeroes about half of its inputs,
    halving the signal's second moment; the factor 2 makes up for it, so activations keep
    the same scale from layer to layer instead of vanishing or exploding with depth.
    (Xavier/Glorot, variance ``2 / (in + out)``, suits tanh and sigmoid, which zero nothing.)

    ``rng`` is a ``np.random.Generator``, an integer seed or None (fresh randomness):
    ``np.random.default_rng(rng)`` accepts all three.

    ``in_features`` and ``out_features`` must be positive integers (a NumPy integer is
    fine): anything else that is not an integer (2.5, "4", None, True) is a ``TypeError``,
    and an integer below 1 a ``ValueError``, each naming the argument and the value.
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True,
                 rng: np.random.Generator | int | None = None) -> None:
        super().__init__()
        self.in_features = in_features
        self.out_features = out_features
        # BEGIN SOLUTION
        for name, value in (("in_features", in_features), ("out_features", out_features)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
                raise TypeError(f"Linear: {name} must be a positive integer, got {name}={value!r} "
                                f"({type(value).__name__})")
            if value < 1:
                raise ValueError(f"Linear: {name} must be a positive integer, got {name}={value}")
        generator = np.random.default_rng(rng)
        bound = np.sqrt(6.0 / in_features)
        weight = generator.uniform(-bound, bound, size=(in_features, out_features))
        self.weight = Tensor(weight.astype(np.float32), requires_grad=True)
        self.bias = Tensor(np.zeros(out_features, dtype=np.float32), requires_grad=True) if bias else None
        # END SOLUTION

    def forward(self, x: Tensor) -> Tensor:
        """``x @ weight + bias`` for ``x`` of shape ``(..., in_features)``.

        A NumPy array works too and gives a Tensor (``array @ weight`` is the weight's
        ``__rmatmul__``, kata 01), of the dtype the promotion rules give (float64 for a
        float64 array).

        If the last dimension of ``x`` is not ``in_features``, raise ``ValueError`` before
        multiplying, with a message that contains the input's shape and
        ``in_features=<n>`` (the layer's ``repr`` does): a bare matmul error deep inside a
        model does not say which layer failed.
        """
        # BEGIN SOLUTION
        if x.ndim == 0 or x.shape[-1] != self.in_features:
            raise ValueError(f"{self!r} expects inputs whose last dimension is "
                             f"in_features={self.in_features}, got an input of shape {x.shape}")
        output = x @ self.weight
        return output + self.bias if self.bias is not None else output
        # END SOLUTION

    def __repr__(self) -> str:
        return (f"Linear(in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.bias is not None})")


class Sequential(Module):
    """Apply layers one after the other: ``Sequential(Linear(784, 128), ReLU(), Linear(128, 10))``.

    Any callable can be a step: Modules, and also activation objects from kata 02 (which
    have no parameters). Module steps are registered as sub-modules named ``"0"``, ``"1"``,
    ... by their position, so the parameters are named ``"0.weight"``, ``"2.bias"``. Keep
    every step, in order, in the tuple ``self.steps``: ``len()``, indexing and iteration
    read it. A step that cannot be called raises ``TypeError`` naming its position
    (``"step 1"``), at construction rather than in the middle of a forward pass.
    """

    def __init__(self, *layers: Callable[[Any], Any]) -> None:
        super().__init__()
        # BEGIN SOLUTION
        for index, layer in enumerate(layers):
            if not callable(layer):
                raise TypeError(f"Sequential step {index} is not callable: {layer!r}")
            setattr(self, str(index), layer)
        self.steps = tuple(layers)
        # END SOLUTION

    def forward(self, x: Any) -> Any:
        """Feed ``x`` through every step in order; return the last step's output."""
        # BEGIN SOLUTION
        for step in self.steps:
            x = step(x)
        return x
        # END SOLUTION

    def __len__(self) -> int:
        return len(self.steps)

    def __getitem__(self, index: int) -> Callable[[Any], Any]:
        return self.steps[index]

    def __iter__(self) -> Iterator[Callable[[Any], Any]]:
        return iter(self.steps)


class Dropout(Module):
    """Randomly zero elements during training, so no unit can rely on any other one.

    Inverted dropout: in training, each element is kept with probability ``1 - p`` and the
    kept ones are divided by ``1 - p``, so the expected value of every element is unchanged
    and evaluation needs no correction: in ``eval()`` mode (and when ``p == 0``) the layer
    returns its input unchanged.

    ``p`` must be in [0, 1): otherwise raise ``ValueError`` naming ``p`` (``p = 1`` would
    drop everything and divide by zero). ``rng`` as in ``Linear``; a seeded ``rng`` makes
    the masks reproducible. The mask is a Tensor of the input's dtype, applied as
    ``x * mask`` (a Tensor operation, so kata 05 can differentiate it).
    """

    def __init__(self, p: float = 0.5, rng: np.random.Generator | int | None = None) -> None:
        super().__init__()
        # BEGIN SOLUTION
        if not 0 <= p < 1:
            raise ValueError(f"Dropout probability p must be in [0, 1), got p={p}")
        self.p = p
        self.rng = np.random.default_rng(rng)
        # END SOLUTION

    def forward(self, x: Tensor) -> Tensor:
        # BEGIN SOLUTION
        if not self.training or self.p == 0:
            return x
        keep = self.rng.random(x.shape) >= self.p
        mask = Tensor((keep / (1 - self.p)).astype(x.dtype))
        return x * mask
        # END SOLUTION

    def __repr__(self) -> str:
        return f"Dropout(p={self.p})"
