"""Kata 06: optimizers, the rules that turn gradients into better weights.

After ``loss.backward()`` every parameter holds ``.grad``: the direction in which the loss
grows fastest. An optimizer moves each parameter a little the other way, again and again.
The training loop is always the same four lines::

    optimizer.zero_grad()          # forget the previous batch's gradients
    loss = loss_fn(model(x), y)    # forward
    loss.backward()                # fill every parameter's .grad
    optimizer.step()               # update every parameter in place

What differs between optimizers is the update rule, and the *state* each one keeps per
parameter between steps:

============  ============================  ===================
optimizer     update (g is the gradient)    state per parameter
============  ============================  ===================
SGD           p -= lr * g                   nothing
SGD+momentum  v = mu * v + g;  p -= lr * v  one array: v
Adam / AdamW  running means of g and g**2   two arrays: m and v
============  ============================  ===================

That state costs memory: Adam keeps two extra copies of every weight, so a model trained with
Adam needs weights + gradients + 2 x weights in float32, four times the model itself.

Conventions, the same as PyTorch's:

- An optimizer works on the raw NumPy arrays (``param.data``, ``param.grad.data``), so it
  never builds an autograd graph, and it updates ``param.data`` *in place* (``data -= ...``):
  the model holds the same Tensor objects, so it sees the new weights, no new array is
  allocated per step, and the weights keep their dtype (float32 stays float32).
- A parameter whose ``.grad`` is None (it took no part in the loss) is skipped entirely:
  no update, no weight decay, no change to its state.
- Every hyper-parameter is checked when the optimizer is built; a bad value raises
  ``ValueError`` naming the hyper-parameter and the value (``TypeError`` if it is not a
  number at all: ``lr="0.1"`` or ``lr=None``). ``lr=inf`` or ``nan`` would turn every
  weight into NaN at the first step: numbers must be finite.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import numpy as np

from ..core import Tensor
from ..core.tensor import compute_dtype

State = dict[str, Any]


class Optimizer:
    """The base of every optimizer: it holds the parameters, their state, and the loop.

    ``params`` is any iterable of Tensors, for example the generator ``model.parameters()``;
    it is read once into the list ``self.params``. An empty iterable is a ``ValueError``
    (an optimizer with nothing to optimize is always a bug, usually a model whose layers were
    never registered), and anything that is not a Tensor is a ``TypeError`` naming its type.

    Attributes every optimizer has:

    - ``params``: the list of parameters, in the order given.
    - ``lr``: the learning rate, a finite number >= 0. A plain attribute: a learning-rate
      schedule changes it between steps.
    - ``weight_decay``: the weight-decay coefficient, a finite number >= 0; each optimizer
      says how it uses it. Both are checked with :func:`require_hyperparameter`.
    - ``state``: one dict per parameter (``state[i]`` belongs to ``params[i]``), empty until
      that parameter's first update. Subclasses keep their buffers there.

    Subclasses define :meth:`update`, the rule for one parameter.
    """

    def __init__(self, params: Iterable[Tensor], lr: float, weight_decay: float = 0.0) -> None:
        # BEGIN SOLUTION
        require_hyperparameter("lr", lr)
        require_hyperparameter("weight_decay", weight_decay)
        self.params: list[Tensor] = list(params)
        if not self.params:
            raise ValueError("the optimizer got an empty list of parameters: "
                             "pass model.parameters() of a model that has some")
        for index, param in enumerate(self.params):
            if not isinstance(param, Tensor):
                raise TypeError(f"parameter {index} is a {type(param).__name__}, not a Tensor")
        self.lr = lr
        self.weight_decay = weight_decay
        self.state: list[State] = [{} for _ in self.params]
        # END SOLUTION

    def zero_grad(self) -> None:
        """Set every parameter's ``.grad`` to None, ready for the next ``backward()``.

        Autograd *adds* into ``.grad`` (a parameter used twice gets both contributions), so
        gradients left over from the previous batch would be added to the new ones. None
        rather than zeros: it frees the gradient memory until backward needs it again.
        """
        # BEGIN SOLUTION
        for param in self.params:
            param.grad = None
        # END SOLUTION

    def step(self) -> None:
        """Update every parameter that has a gradient, in place, with :meth:`update`.

        For each parameter whose ``.grad`` is not None, call
        ``self.update(param.data, param.grad.data, state)`` with that parameter's own state
        dict. Parameters without a gradient are skipped. A gradient whose shape differs from
        its parameter's is a ``ValueError`` naming both shapes.
        """
        # BEGIN SOLUTION
        for param, state in zip(self.params, self.state):
            if param.grad is None:
                continue
            grad = param.grad.data
            if grad.shape != param.data.shape:
                raise ValueError(f"gradient of shape {grad.shape} does not match its parameter "
                                 f"of shape {param.data.shape}")
            self.update(param.data, grad, state)
        # END SOLUTION

    def update(self, data: np.ndarray, grad: np.ndarray, state: State) -> None:
        """Update one parameter's array ``data`` in place, given its gradient and its state."""
        raise NotImplementedError(f"{type(self).__name__} must define update()")

    def state_bytes(self) -> int:
        """Bytes of the NumPy arrays the optimizer keeps in ``self.state``, all parameters.

        The real ``nbytes`` of the buffers (a float64 buffer counts twice a float32 one), not
        a formula: 0 for plain SGD, the parameters' bytes for SGD with momentum, twice that
        for Adam, once every parameter has been updated.
        """
        # BEGIN SOLUTION
        return sum(value.nbytes for state in self.state for value in state.values()
                   if isinstance(value, np.ndarray))
        # END SOLUTION


def require_hyperparameter(name: str, value: Any) -> None:
    """Check a hyper-parameter that must be a finite number >= 0 (``lr``, ``weight_decay``,
    ``momentum``).

    Not a number (a string, None, a bool): ``TypeError`` naming ``name``, the value and
    its type; a Python or NumPy int or float that is negative, NaN or infinite:
    ``ValueError`` naming ``name`` and the value. NaN fails every comparison, so test
    ``math.isfinite`` rather than rely on ``value < 0``.
    """
    # BEGIN SOLUTION
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a number, got {name}={value!r} ({type(value).__name__})")
    if not (math.isfinite(value) and value >= 0):
        raise ValueError(f"{name} must be a finite number >= 0, got {name}={value}")
    # END SOLUTION


class SGD(Optimizer):
    """Stochastic gradient descent, with optional momentum, Nesterov and weight decay.

    One step, for each parameter ``p`` with gradient ``g`` (PyTorch's formulation)::

        g = g + weight_decay * p           # L2 weight decay, added to the gradient first
        if momentum:
            v = momentum * v + g           # v starts at zeros: after one step, v = g
            g = g + momentum * v  if nesterov  else  v
        p -= lr * g

    Momentum keeps a running sum of past gradients, so steps along a direction where the
    gradients agree grow (up to 1 / (1 - momentum) times), while directions where they flip
    sign cancel out. Nesterov looks one step ahead along the velocity.

    ``momentum`` must be >= 0, and ``nesterov=True`` needs ``momentum > 0``. The
    hyper-parameters are kept as attributes of the same names (``lr``, ``momentum``,
    ``nesterov``, ``weight_decay``). The velocity buffer lives in ``state["velocity"]`` with
    the parameter's shape and dtype; plain SGD keeps no state at all.
    """

    def __init__(self, params: Iterable[Tensor], lr: float, momentum: float = 0.0,
                 nesterov: bool = False, weight_decay: float = 0.0) -> None:
        # BEGIN SOLUTION
        super().__init__(params, lr, weight_decay)
        require_hyperparameter("momentum", momentum)
        if nesterov and momentum == 0:
            raise ValueError(f"nesterov=True needs a momentum > 0, got momentum={momentum}")
        self.momentum = momentum
        self.nesterov = nesterov
        # END SOLUTION

    def update(self, data: np.ndarray, grad: np.ndarray, state: State) -> None:
        # BEGIN SOLUTION
        if self.weight_decay:
            grad = grad + self.weight_decay * data
        if self.momentum:
            velocity = state.setdefault("velocity", np.zeros_like(data))
            velocity *= self.momentum
            velocity += grad
            grad = grad + self.momentum * velocity if self.nesterov else velocity
        data -= self.lr * grad
        # END SOLUTION


class Adam(Optimizer):
    """Adam: a step size for every weight, from running means of the gradient and its square.

    One step, for each parameter ``p`` with gradient ``g``; ``t`` counts the updates *this
    parameter* has received (1 on its first), so a parameter that had no gradient for a while
    is not treated as if it had been updated::

        g = g + weight_decay * p                    # L2 weight decay (AdamW does it differently)
        m = beta1 * m + (1 - beta1) * g             # m and v start at zeros
        v = beta2 * v + (1 - beta2) * g**2
        m_hat = m / (1 - beta1**t)                  # bias correction
        v_hat = v / (1 - beta2**t)
        p -= lr * m_hat / (sqrt(v_hat) + eps)

    Why bias correction: m and v start at zero, so early on they are far too small (after
    one step m = 0.1 g). Dividing by ``1 - beta**t`` undoes exactly that, and the first step
    moves every weight by about ``lr``, whatever the scale of its gradient.

    ``0 <= beta < 1`` for both betas, ``eps`` finite and > 0; they are kept as the attributes
    ``beta1``, ``beta2`` and ``eps`` (with ``lr`` and ``weight_decay``). The state of a
    parameter is ``state["step"]`` (its t, an int), ``state["m"]`` and ``state["v"]``: two
    arrays of the parameter's shape, in ``compute_dtype`` of its dtype (float32 for a float16
    parameter, whose ``g**2`` overflows from g = 256; otherwise the parameter's dtype).

    A gradient whose square ``v`` cannot hold (beyond ``sqrt`` of the largest float of the
    state's dtype: about 1.8e19 in float32) or that is not finite would make ``v`` inf and
    freeze the weight for good, without a word. :meth:`adam_step` refuses it instead, with
    a ``FloatingPointError`` naming the largest gradient, before changing anything.
    """

    def __init__(self, params: Iterable[Tensor], lr: float = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0) -> None:
        # BEGIN SOLUTION
        super().__init__(params, lr, weight_decay)
        for index, beta in enumerate(betas):
            if not 0 <= beta < 1:
                raise ValueError(f"betas[{index}] must be in [0, 1), got {beta}")
        require_hyperparameter("eps", eps)
        if eps == 0:
            raise ValueError(f"eps must be > 0, got eps={eps}")
        self.beta1, self.beta2 = betas
        self.eps = eps
        # END SOLUTION

    def update(self, data: np.ndarray, grad: np.ndarray, state: State) -> None:
        """Adam with L2 regularisation: the decay joins the gradient, then :meth:`adam_step`."""
        # BEGIN SOLUTION
        if self.weight_decay:
            grad = grad + self.weight_decay * data
        self.adam_step(data, grad, state)
        # END SOLUTION

    def adam_step(self, data: np.ndarray, grad: np.ndarray, state: State) -> None:
        """The moment updates, bias correction and step of the formula above, in place.

        The moments are computed in ``compute_dtype(data.dtype)`` (the gradient too:
        convert it first, or ``grad * grad`` overflows in float16). Check the gradient
        before touching the state (see the class docstring): its largest magnitude must
        be at most ``sqrt(np.finfo(dtype).max)``, a test NaN fails as well.
        """
        # BEGIN SOLUTION
        working = compute_dtype(data.dtype)
        grad = grad.astype(working, copy=False)
        largest = max(abs(grad.max(initial=0)), abs(grad.min(initial=0)))
        if not largest <= math.sqrt(np.finfo(working).max):
            raise FloatingPointError(
                f"Adam: a gradient of magnitude {largest:.3g} (parameter of shape {data.shape}): its "
                f"square overflows {working}, so the second moment would be inf; lower the "
                f"learning rate or clip the gradients")
        if not state:
            state["step"] = 0
            state["m"] = np.zeros(data.shape, dtype=working)
            state["v"] = np.zeros(data.shape, dtype=working)
        state["step"] += 1
        t, m, v = state["step"], state["m"], state["v"]
        m *= self.beta1
        m += (1 - self.beta1) * grad
        v *= self.beta2
        v += (1 - self.beta2) * grad * grad
        m_hat = m / (1 - self.beta1 ** t)
        v_hat = v / (1 - self.beta2 ** t)
        data -= self.lr * m_hat / (np.sqrt(v_hat) + self.eps)
        # END SOLUTION


class AdamW(Adam):
    """Adam with *decoupled* weight decay (Loshchilov & Hutter, 2019).

    In :class:`Adam`, L2 decay is added to the gradient and then divided by ``sqrt(v_hat)``
    like everything else, so weights with large gradients are barely decayed at all. AdamW
    shrinks every weight by the same factor instead, outside the adaptive step::

        p -= lr * weight_decay * p                  # decay, independent of the gradient
        then the Adam step with the raw gradient    # no weight_decay term in g

    The default ``weight_decay`` is 0.01, as in PyTorch.
    """

    def __init__(self, params: Iterable[Tensor], lr: float = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 1e-2) -> None:
        super().__init__(params, lr, betas, eps, weight_decay)

    def update(self, data: np.ndarray, grad: np.ndarray, state: State) -> None:
        # BEGIN SOLUTION
        data *= 1 - self.lr * self.weight_decay
        self.adam_step(data, grad, state)
        # END SOLUTION
