"""Kata 05: automatic differentiation, the engine that makes every network trainable.

Reverse-mode autodiff in three ideas:

1. **Record.** Every operation on tensors that require gradients remembers how its output
   was made: ``out.grad_fn`` is a :class:`Function` that keeps the input tensors (and the
   output's array). Following ``grad_fn.inputs`` backwards from a loss walks the whole
   computation: a directed acyclic graph whose leaves are the tensors you created
   (parameters, data).
2. **Local rules.** Each Function knows one thing, its chain rule: given ``grad``, the
   gradient of the final result with respect to its output, return the gradient with
   respect to each input. For ``out = a * b``: ``grad * b`` for ``a`` and ``grad * a`` for
   ``b``. These are vector-Jacobian products: nobody ever builds a Jacobian matrix.
3. **One sweep.** ``loss.backward()`` visits the graph once, outputs before inputs
   (reverse topological order), handing each Function the sum of all the gradients that
   reached its output, until the leaves receive their ``.grad``.

How an operation joins the graph, the same way everywhere: its last line (given) is
``return record(out, AddBackward, (self, other))``, naming its output, its Function and its
inputs. The Tensor operations of kata 01, the activations of kata 02 and the losses of kata
04 have ended that way from the start, and :func:`record` did nothing: it asks the switch
``AUTOGRAD`` (a :class:`~tinytorch.core.switch.Switch`), which is off until
:func:`enable_autograd` turns it on and installs :func:`backpropagate` as
``Tensor.backward``. So nothing in katas 01-04 changes; layers (kata 03) are built from
Tensor operations and become differentiable for free; and from kata 09 on, you write that
last line yourself, with the Functions you write there.

What you write: the gradient helpers :func:`unbroadcast` and :func:`unreduce`, the
``backward`` of every Function, :func:`topological_order`, :func:`backpropagate` (which
becomes ``Tensor.backward``) and :func:`no_grad`. The switch and :func:`record`, at the end
of the file, are given: read them to see how the graph gets built.

Shapes and dtypes: a gradient always has exactly the shape of the tensor it belongs to,
and a leaf's ``.grad`` has the leaf's dtype.

Why one long file: it is all of kata 05's code, and a kata's tests, its stub and its
reference are found from one another by name; its sections follow the kata's test files.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np

from .switch import Switch
from .tensor import Tensor, cast_back, compute_dtype

Axis = int | tuple[int, ...] | None
Gradients = tuple[np.ndarray | None, ...]

_grad_enabled = True


# -- grad mode ------------------------------------------------------------------------------

def is_grad_enabled() -> bool:
    """Whether operations record a graph right now (False inside ``with no_grad():``)."""
    return _grad_enabled


@contextmanager
def no_grad() -> Iterator[None]:
    """Within ``with no_grad():`` no operation records a graph.

    Use it where gradients are not wanted: evaluating a model, or an optimizer updating
    parameters. Outputs then have ``requires_grad=False`` and no ``grad_fn``, and the
    intermediate arrays are freed as soon as they are not used any more.

    It nests (an inner block must not switch recording back on when it ends) and restores
    the previous state on the way out even when the block raises: set the module's
    ``_grad_enabled`` with a ``global`` statement, and restore it in ``finally``.
    """
    global _grad_enabled
    # BEGIN SOLUTION
    previous = _grad_enabled
    _grad_enabled = False
    try:
        yield
    finally:
        _grad_enabled = previous
    # END SOLUTION


# -- the gradients of broadcasting and of reductions ---------------------------------------

def unbroadcast(grad: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Sum ``grad`` down to ``shape``: the gradient of broadcasting.

    ``bias + batch`` with ``bias`` of shape (3,) and ``batch`` of shape (4, 3) uses every
    bias value 4 times, so the bias's gradient is the SUM of the 4 rows of ``grad``. In
    general broadcasting (a) adds leading axes and (b) stretches axes of size 1; undo both:
    sum over the extra leading axes, then over every axis where ``shape`` has a 1 and
    ``grad`` does not (``keepdims=True`` keeps that axis as size 1).

    ``unbroadcast(ones((2, 3)), (2, 1))`` is ``[[3.], [3.]]``; ``unbroadcast(ones((4, 3)),
    (3,))`` is ``[4., 4., 4.]``. A gradient that already has ``shape`` comes back as is.
    """
    # BEGIN SOLUTION
    leading = grad.ndim - len(shape)
    if leading > 0:
        grad = grad.sum(axis=tuple(range(leading)))
    stretched = tuple(axis for axis, size in enumerate(shape) if size == 1 and grad.shape[axis] != 1)
    if stretched:
        grad = grad.sum(axis=stretched, keepdims=True)
    return grad
    # END SOLUTION


def unreduce(grad: np.ndarray, shape: tuple[int, ...], axis: Axis, keepdims: bool) -> np.ndarray:
    """Spread the gradient of a reduction back over the ``shape`` of its input.

    ``x.sum(axis=1)`` turns ``x`` of shape (2, 3) into shape (2,); every element of a row
    contributed to that row's sum, so each receives the row's gradient: put the reduced
    axes back as size 1 (unless ``keepdims`` kept them) and broadcast to ``shape``.
    ``axis`` is None (every axis), an int or a tuple of ints, possibly negative.

    ``unreduce(array([1., 2.]), (2, 3), axis=1, keepdims=False)`` is
    ``[[1, 1, 1], [2, 2, 2]]``. Sum, Mean and Max all start from this.
    """
    # BEGIN SOLUTION
    if axis is None:
        axes = tuple(range(len(shape)))
    else:
        axes = tuple(a % len(shape) for a in (axis if isinstance(axis, tuple) else (axis,)))
    if not keepdims:
        grad = np.expand_dims(grad, axes)
    return np.broadcast_to(grad, shape)
    # END SOLUTION


# -- Function: one recorded operation -----------------------------------------------------

class Function:
    """One operation in the graph, and its chain rule.

    Made by :func:`record`, the last line of every differentiable operation, with:

    - ``inputs``: the input Tensors, in order (``a`` and ``b`` of ``a - b``; Python numbers
      and arrays were turned into constant Tensors that do not require grad);
    - ``output``: the output's NumPy array (the array, not the Tensor: a Tensor pointing to
      its Function pointing back to it would be a reference cycle);
    - ``arguments``: the operation's other arguments by name (``axis``, ``keepdims``...).

    Subclasses implement ``backward``. Everything a Function keeps stays alive as long as
    the graph does: that is the memory cost of training (see this kata's systems tests).
    """

    def __init__(self, inputs: tuple[Tensor, ...], output: Tensor, **arguments: Any) -> None:
        self.inputs = inputs
        self.output = output.data
        self.arguments = arguments

    def backward(self, grad: np.ndarray) -> Gradients:
        """Given ``grad`` (shape of the output), the gradient for each input, in order.

        An entry may be None for an input that can never need a gradient (class indices).
        """
        raise NotImplementedError(f"{type(self).__name__} must define backward()")

    def input_gradients(self, grad: np.ndarray) -> list[tuple[Tensor, np.ndarray]]:
        """Run ``backward`` and pair each gradient with its input, checking the answer.

        Inputs that do not require grad (constants, data) are left out, and so are None
        gradients. A gradient of the wrong shape is a bug in a backward rule, reported
        here instead of surfacing later as a puzzling broadcast.
        """
        name = type(self).__name__
        gradients = self.backward(grad)
        if len(gradients) != len(self.inputs):
            raise RuntimeError(f"{name}.backward returned {len(gradients)} gradients for "
                               f"{len(self.inputs)} inputs: return one per input, in order")
        pairs = []
        for index, (tensor, gradient) in enumerate(zip(self.inputs, gradients)):
            if gradient is None or not tensor.requires_grad:
                continue
            gradient = np.asarray(gradient)
            if gradient.shape != tensor.shape:
                raise RuntimeError(
                    f"{name}.backward returned a gradient of shape {gradient.shape} for input "
                    f"{index}, which has shape {tensor.shape}: a gradient has the shape of its "
                    f"input (sum over broadcast axes with unbroadcast)")
            pairs.append((tensor, gradient))
        return pairs

    def __repr__(self) -> str:
        return f"<{type(self).__name__}>"


# -- element-wise arithmetic: inputs (a, b), broadcast against each other ------------------

class AddBackward(Function):
    """``a + b``: the gradient passes through unchanged to both, summed to their shapes."""

    def backward(self, grad: np.ndarray) -> Gradients:
        a, b = self.inputs
        # BEGIN SOLUTION
        return unbroadcast(grad, a.shape), unbroadcast(grad, b.shape)
        # END SOLUTION


class SubBackward(Function):
    """``a - b``."""

    def backward(self, grad: np.ndarray) -> Gradients:
        a, b = self.inputs
        # BEGIN SOLUTION
        return unbroadcast(grad, a.shape), unbroadcast(-grad, b.shape)
        # END SOLUTION


class MulBackward(Function):
    """``a * b``: each input's gradient is ``grad`` times the OTHER input."""

    def backward(self, grad: np.ndarray) -> Gradients:
        a, b = self.inputs
        # BEGIN SOLUTION
        return unbroadcast(grad * b.data, a.shape), unbroadcast(grad * a.data, b.shape)
        # END SOLUTION


class DivBackward(Function):
    """``a / b``: d/da = 1/b, d/db = -a / b**2."""

    def backward(self, grad: np.ndarray) -> Gradients:
        a, b = self.inputs
        # BEGIN SOLUTION
        return (unbroadcast(grad / b.data, a.shape),
                unbroadcast(-grad * a.data / (b.data * b.data), b.shape))
        # END SOLUTION


class NegBackward(Function):
    """``-a``."""

    def backward(self, grad: np.ndarray) -> Gradients:
        # BEGIN SOLUTION
        return (-grad,)
        # END SOLUTION


class PowBackward(Function):
    """``base ** exponent``: d/dbase = exponent * base ** (exponent - 1).

    The exponent is usually a constant (``x ** 2``). If it is a Tensor that requires grad,
    its gradient is ``output * log(base)``; compute that only then (``log`` of a negative
    base is nan, and a constant exponent does not need it).
    """

    def backward(self, grad: np.ndarray) -> Gradients:
        base, exponent = self.inputs
        # BEGIN SOLUTION
        p = exponent.data
        grad_base = unbroadcast(grad * p * base.data ** (p - 1), base.shape)
        if not exponent.requires_grad:
            return grad_base, None
        with np.errstate(divide="ignore", invalid="ignore"):
            grad_exponent = unbroadcast(grad * self.output * np.log(base.data), exponent.shape)
        return grad_base, grad_exponent
        # END SOLUTION


class ExpBackward(Function):
    """``exp(a)`` is its own derivative: reuse the output instead of recomputing it."""

    def backward(self, grad: np.ndarray) -> Gradients:
        # BEGIN SOLUTION
        return (grad * self.output,)
        # END SOLUTION


class LogBackward(Function):
    """``log(a)``: d/da = 1/a."""

    def backward(self, grad: np.ndarray) -> Gradients:
        (a,) = self.inputs
        # BEGIN SOLUTION
        return (grad / a.data,)
        # END SOLUTION


# -- matrix multiplication ----------------------------------------------------------------

class MatMulBackward(Function):
    """``a @ b`` with a (..., n, k) and b (..., k, m): grad (..., n, m).

    ``grad_a = grad @ b^T`` (shape (..., n, k)) and ``grad_b = a^T @ grad`` (..., k, m),
    where ^T swaps the LAST TWO axes only (``np.swapaxes(x, -1, -2)``; ``x.T`` reverses all
    of them, wrong for batches). Leading (batch) axes broadcast like any other operation,
    so unbroadcast each result: ``(8, n, k) @ (k, m)`` shares the one weight matrix across
    the batch, and its gradient is the sum over the batch.

    Vectors: a 1-D ``a`` acts as a row (1, k) and a 1-D ``b`` as a column (k, 1), and NumPy
    drops that axis from the output. Put it back into ``grad`` (``np.expand_dims``), compute
    as for matrices, then reshape each gradient to its input's shape.
    """

    def backward(self, grad: np.ndarray) -> Gradients:
        a, b = self.inputs
        # BEGIN SOLUTION
        a_matrix = a.data[np.newaxis, :] if a.ndim == 1 else a.data
        b_matrix = b.data[:, np.newaxis] if b.ndim == 1 else b.data
        if b.ndim == 1:
            grad = np.expand_dims(grad, -1)
        if a.ndim == 1:
            grad = np.expand_dims(grad, -2)
        grad_a = unbroadcast(grad @ np.swapaxes(b_matrix, -1, -2), a_matrix.shape)
        grad_b = unbroadcast(np.swapaxes(a_matrix, -1, -2) @ grad, b_matrix.shape)
        return grad_a.reshape(a.shape), grad_b.reshape(b.shape)
        # END SOLUTION


# -- reductions: arguments axis and keepdims ----------------------------------------------

class SumBackward(Function):
    """``a.sum(axis, keepdims)``: every element that was summed gets the sum's gradient."""

    def backward(self, grad: np.ndarray) -> Gradients:
        (a,) = self.inputs
        axis, keepdims = self.arguments["axis"], self.arguments["keepdims"]
        # BEGIN SOLUTION
        return (unreduce(grad, a.shape, axis, keepdims),)
        # END SOLUTION


class MeanBackward(Function):
    """``a.mean(axis, keepdims)``: like Sum, divided by how many elements each mean averaged."""

    def backward(self, grad: np.ndarray) -> Gradients:
        (a,) = self.inputs
        axis, keepdims = self.arguments["axis"], self.arguments["keepdims"]
        # BEGIN SOLUTION
        count = a.size // self.output.size
        return (unreduce(grad, a.shape, axis, keepdims) / count,)
        # END SOLUTION


class MaxBackward(Function):
    """``a.max(axis, keepdims)``: the gradient goes to the element(s) that were the maximum.

    Ties: when several elements share the maximum, the gradient is split EVENLY among them
    (``[3, 1, 3].max()`` sends 0.5 to each 3). That is what central finite differences
    measure for a tie of two, and it keeps the rule symmetric. Find the winners by comparing
    ``a`` with the output spread back with :func:`unreduce`, then divide by how many won.
    """

    def backward(self, grad: np.ndarray) -> Gradients:
        (a,) = self.inputs
        axis, keepdims = self.arguments["axis"], self.arguments["keepdims"]
        # BEGIN SOLUTION
        winners = a.data == unreduce(self.output, a.shape, axis, keepdims)
        shares = winners / winners.sum(axis=axis, keepdims=True)
        return (unreduce(grad, a.shape, axis, keepdims) * shares,)
        # END SOLUTION


# -- shape --------------------------------------------------------------------------------

class ReshapeBackward(Function):
    """``a.reshape(*shape)``: the same elements in the same order, so reshape ``grad`` back."""

    def backward(self, grad: np.ndarray) -> Gradients:
        (a,) = self.inputs
        # BEGIN SOLUTION
        return (grad.reshape(a.shape),)
        # END SOLUTION


class TransposeBackward(Function):
    """``a.transpose(dim0, dim1)``: swapping the same two axes again undoes it."""

    def backward(self, grad: np.ndarray) -> Gradients:
        dim0, dim1 = self.arguments["dim0"], self.arguments["dim1"]
        # BEGIN SOLUTION
        return (np.swapaxes(grad, dim0, dim1),)
        # END SOLUTION


class GetItemBackward(Function):
    """``a[index]``: scatter ``grad`` into zeros of ``a``'s shape at ``index``.

    An index may pick the same element twice (``embedding[[3, 0, 3]]``), and then that
    element must receive BOTH gradients. ``full[index] += grad`` silently keeps only one of
    them (NumPy's buffered assignment); ``np.add.at(full, index, grad)`` adds every one.
    ``numpy_index(...)`` turns Tensors inside the index into arrays.
    """

    def backward(self, grad: np.ndarray) -> Gradients:
        (a,) = self.inputs
        index = numpy_index(self.arguments["index"])
        # BEGIN SOLUTION
        full = np.zeros(a.shape, dtype=grad.dtype)
        np.add.at(full, index, grad)
        return (full,)
        # END SOLUTION


def numpy_index(index: Any) -> Any:
    """An index as NumPy understands it: Tensors inside it replaced by their arrays."""
    if isinstance(index, Tensor):
        return index.data
    if isinstance(index, tuple):
        return tuple(item.data if isinstance(item, Tensor) else item for item in index)
    return index


# -- activations (kata 02): input x; the output is usually the cheapest way back ----------

class ReLUBackward(Function):
    """ReLU passes the gradient where the input was positive and blocks it elsewhere.

    At exactly 0 the derivative is undefined; the convention (PyTorch's too) is 0.
    """

    def backward(self, grad: np.ndarray) -> Gradients:
        (x,) = self.inputs
        # BEGIN SOLUTION
        return (grad * (x.data > 0),)
        # END SOLUTION


class SigmoidBackward(Function):
    """With ``s`` the output: d/dx sigmoid(x) = s * (1 - s)."""

    def backward(self, grad: np.ndarray) -> Gradients:
        # BEGIN SOLUTION
        s = self.output
        return (grad * s * (1 - s),)
        # END SOLUTION


class TanhBackward(Function):
    """With ``t`` the output: d/dx tanh(x) = 1 - t**2."""

    def backward(self, grad: np.ndarray) -> Gradients:
        # BEGIN SOLUTION
        return (grad * (1 - self.output * self.output),)
        # END SOLUTION


class GELUBackward(Function):
    """The tanh approximation ``0.5 x (1 + tanh(u))`` with ``u = c (x + k x**3)``.

    Product rule, with ``c = SQRT_2_OVER_PI`` and ``k = GELU_COEFFICIENT``:
    ``0.5 (1 + tanh u) + 0.5 x (1 - tanh(u)**2) c (1 + 3 k x**2)``.

    float16, as in kata 02: compute in ``compute_dtype(x.dtype)`` and return
    ``cast_back(gradient, x.dtype)`` (in float16, ``x**2`` at 1e4 is inf, and ``0 * inf``
    is NaN).
    """

    def backward(self, grad: np.ndarray) -> Gradients:
        from .activations import GELU_COEFFICIENT, SQRT_2_OVER_PI  # here: activations imports autograd

        (x,) = self.inputs
        # BEGIN SOLUTION
        v = x.data.astype(compute_dtype(x.dtype), copy=False)
        t = np.tanh(SQRT_2_OVER_PI * (v + GELU_COEFFICIENT * v * v * v))
        du_dx = SQRT_2_OVER_PI * (1 + 3 * GELU_COEFFICIENT * v * v)
        return (cast_back(grad * (0.5 * (1 + t) + 0.5 * v * (1 - t * t) * du_dx), x.dtype),)
        # END SOLUTION


class SoftmaxBackward(Function):
    """Softmax along ``axis`` (an argument); ``s`` is the output.

    Every output of a slice depends on every input of that slice: the Jacobian is
    ``diag(s) - s s^T``. Its vector product needs no matrix:
    ``s * (grad - sum(grad * s, axis, keepdims=True))``. (``s * (1 - s)`` is only the
    diagonal: wrong as soon as the gradient differs between the outputs of a slice.)
    """

    def backward(self, grad: np.ndarray) -> Gradients:
        axis = self.arguments["axis"]
        # BEGIN SOLUTION
        s = self.output
        return (s * (grad - (grad * s).sum(axis=axis, keepdims=True)),)
        # END SOLUTION


class LogSoftmaxBackward(Function):
    """LogSoftmax along ``axis``; its output is ``log s``, so ``s = exp(output)``.

    The vector-Jacobian product is ``grad - s * sum(grad, axis, keepdims=True)``.
    """

    def backward(self, grad: np.ndarray) -> Gradients:
        axis = self.arguments["axis"]
        # BEGIN SOLUTION
        s = np.exp(self.output)
        return (grad - s * grad.sum(axis=axis, keepdims=True),)
        # END SOLUTION


# -- losses (kata 04): inputs (prediction, target), a scalar mean over the batch ----------

class MSELossBackward(Function):
    """``mean((prediction - target)**2)`` over every element: ``2 (p - t) / n`` for the
    prediction, the opposite for the target (the shapes are equal: kata 04 checks)."""

    def backward(self, grad: np.ndarray) -> Gradients:
        prediction, target = self.inputs
        # BEGIN SOLUTION
        grad_prediction = grad * 2 * (prediction.data - target.data) / prediction.size
        return grad_prediction, -grad_prediction
        # END SOLUTION


class CrossEntropyLossBackward(Function):
    """Logits (N, C) and class indices (N,): ``(softmax(logits) - one_hot(target)) / N``.

    The classic result: softmax and the log of cross-entropy cancel into "probabilities
    minus the truth". Compute softmax stably (subtract each row's maximum). The target is
    a class index, not something to differentiate: its gradient is None.
    """

    def backward(self, grad: np.ndarray) -> Gradients:
        logits, target = self.inputs
        # BEGIN SOLUTION
        shifted = np.exp(logits.data - logits.data.max(axis=-1, keepdims=True))
        probabilities = shifted / shifted.sum(axis=-1, keepdims=True)
        rows = np.arange(len(logits.data))
        probabilities[rows, target.data.astype(np.int64)] -= 1
        return grad * probabilities / len(logits.data), None
        # END SOLUTION


class BCELossBackward(Function):
    """Binary cross-entropy of probabilities ``p`` against targets ``t``, mean over n.

    ``-(t log p + (1 - t) log(1 - p))`` gives ``(p - t) / (p (1 - p)) / n`` for ``p`` and
    ``log((1 - p) / p) / n`` for ``t``. The forward clips ``p`` to ``[BCE_EPSILON,
    1 - BCE_EPSILON]`` in float64 (kata 04): use the same clipped ``p``, so the gradient of
    a confident mistake is large but finite, and return the prediction's gradient with
    ``cast_back(gradient, prediction.dtype)``: in float16 the largest, about 1e7 / n, is
    clipped to 65504 instead of becoming inf.
    """

    def backward(self, grad: np.ndarray) -> Gradients:
        from ..nn.losses import BCE_EPSILON  # here, not at the top: tinytorch.nn imports core

        prediction, target = self.inputs
        # BEGIN SOLUTION
        p = np.clip(prediction.data.astype(np.float64), BCE_EPSILON, 1 - BCE_EPSILON)
        t, n = target.data, prediction.size
        grad_prediction = grad * (p - t) / (p * (1 - p)) / n
        grad_target = grad * np.log((1 - p) / p) / n
        return cast_back(grad_prediction, prediction.dtype), grad_target
        # END SOLUTION


class BCEWithLogitsLossBackward(Function):
    """BCE on logits ``z``: ``(sigmoid(z) - t) / n`` for ``z`` and ``-z / n`` for ``t``.

    Compute the sigmoid without overflow, as in kata 02.
    """

    def backward(self, grad: np.ndarray) -> Gradients:
        logits, target = self.inputs
        # BEGIN SOLUTION
        z, t, n = logits.data, target.data, logits.size
        e = np.exp(-np.abs(z))
        sigmoid = np.where(z >= 0, 1 / (1 + e), e / (1 + e))
        return grad * (sigmoid - t) / n, -grad * z / n
        # END SOLUTION


# -- the backward pass ------------------------------------------------------------------------

def topological_order(root: Tensor) -> list[Tensor]:
    """Every tensor ``root`` depends on through tensors that require grad, each ONCE, in
    an order where each tensor comes after all the tensors it was computed from (``root``
    is last). Walk ``tensor.grad_fn.inputs``; leaves have ``grad_fn`` None; skip inputs
    that do not require grad (constants and data need no gradient).

    Two traps. A tensor reached by several paths (``y = x * x``, or a residual ``x + f(x)``)
    must still appear once: remember what you visited (by ``id(tensor)``). And a recursive
    depth-first search dies with ``RecursionError`` on a graph 1,000 operations deep (a
    long sequence, an RNN): use a loop and your own stack. A stack entry can say whether a
    tensor's inputs are done: push ``(tensor, False)``; when you pop it, push
    ``(tensor, True)`` and then its inputs; when ``(tensor, True)`` comes off the stack,
    all its inputs have been placed, so place it.
    """
    # BEGIN SOLUTION
    order: list[Tensor] = []
    visited: set[int] = set()
    stack: list[tuple[Tensor, bool]] = [(root, False)]
    while stack:
        tensor, inputs_placed = stack.pop()
        if inputs_placed:
            order.append(tensor)
            continue
        if id(tensor) in visited:
            continue
        visited.add(id(tensor))
        stack.append((tensor, True))
        if tensor.grad_fn is not None:
            for parent in tensor.grad_fn.inputs:
                if parent.requires_grad and id(parent) not in visited:
                    stack.append((parent, False))
    return order
    # END SOLUTION


def backpropagate(self: Tensor, gradient: Tensor | np.ndarray | float | None = None) -> None:
    """``tensor.backward(gradient=None)``: fill ``.grad`` of every leaf this tensor depends on.

    - ``gradient`` is d(final result)/d(this tensor), of this tensor's shape. A one-element
      tensor (a loss) may omit it: it is 1. Otherwise raise ``ValueError`` naming the
      tensor's shape (also for a ``gradient`` of the wrong shape). A tensor that does not
      require grad has no graph: raise ``ValueError`` saying so.
    - Keep a dict ``{id(tensor): gradient array}``. Go through :func:`topological_order`
      in REVERSE (this tensor first): pop the tensor's gradient (popping frees it once
      used); for a Function's output, ``tensor.grad_fn.input_gradients(grad)`` gives
      ``(input, gradient)`` pairs: ADD each into the dict (several paths reach the same
      tensor: their contributions sum).
    - At a leaf (``grad_fn`` None), ACCUMULATE into ``leaf.grad``, a new Tensor of the
      leaf's dtype: ``grad`` if it was None, else the old ``grad`` plus this one. Calling
      backward twice adds up, which is what lets a training loop sum over micro-batches;
      setting ``leaf.grad = None`` (zero_grad, kata 06) starts afresh. Only leaves get
      ``.grad``; intermediate gradients disappear with the dict.
    - A leaf's ``.grad`` must be its own array: optimizers and gradient clipping change it
      in place. ``grad`` may be shared: ``a + b`` hands the SAME array to both inputs,
      and the caller's ``gradient`` is the caller's. Copying every leaf's gradient is
      safe but costs a pass over it (for a big activation, as much as a whole
      element-wise operation), so copy only when needed: when ``grad`` does not own its
      memory (a view, such as a broadcast or a reshape), is read-only, is not of the
      leaf's dtype, or was already handed out in this call (the caller's gradient counts
      as handed out). Keep the ids of the arrays handed out in a set.

    The graph is kept, so ``backward`` may be called on it again.
    """
    # BEGIN SOLUTION
    if not self.requires_grad:
        raise ValueError(f"backward() on a tensor that does not require grad (shape "
                           f"{self.shape}): no graph was recorded. Create the leaves with "
                           f"requires_grad=True, outside no_grad()")
    if gradient is None:
        if self.size != 1:
            raise ValueError(f"backward() without a gradient needs a one-element tensor, this "
                             f"one has shape {self.shape}: pass gradient= of shape {self.shape}")
        seed = np.ones(self.shape, dtype=self.dtype)
    else:
        seed = np.asarray(gradient.data if isinstance(gradient, Tensor) else gradient, dtype=self.dtype)
        if seed.shape != self.shape:
            raise ValueError(f"backward(gradient=...) got a gradient of shape {seed.shape} for "
                             f"a tensor of shape {self.shape}: they must be equal")
    gradients: dict[int, np.ndarray] = {id(self): seed}
    handed_out = {id(seed)} if gradient is not None else set()
    for tensor in reversed(topological_order(self)):
        grad = gradients.pop(id(tensor), None)
        if grad is None:
            continue
        if tensor.grad_fn is None:
            if tensor.grad is not None:
                grad = tensor.grad.data + grad
            shared = (not isinstance(grad, np.ndarray) or id(grad) in handed_out
                      or not grad.flags.owndata or not grad.flags.writeable or grad.dtype != tensor.dtype)
            if shared:
                grad = np.array(grad, dtype=tensor.dtype)
            handed_out.add(id(grad))
            tensor.grad = Tensor(grad)
            continue
        for parent, parent_grad in tensor.grad_fn.input_gradients(grad):
            previous = gradients.get(id(parent))
            gradients[id(parent)] = parent_grad if previous is None else previous + parent_grad
    # END SOLUTION


# -- recording (given): one switch, and the last line of every operation -------------------

# Off until enable_autograd(): record() asks it, and it swaps in the real Tensor.backward.
AUTOGRAD = Switch("autograd", [(Tensor, "backward", backpropagate)])


def enable_autograd() -> None:
    """Wake the dormant gradients: from now on, operations record the graph.

    Turns the switch :data:`AUTOGRAD` on: :func:`record` starts recording, and
    :func:`backpropagate` becomes ``Tensor.backward``. Values, dtypes and errors stay
    exactly those of katas 01-04. Calling it again changes nothing.
    """
    AUTOGRAD.turn_on()


def disable_autograd() -> None:
    """Put the gradients back to sleep: :func:`record` keeps nothing, and ``Tensor.backward``
    is kata 01's dormant one again. Graphs recorded before keep their Functions."""
    AUTOGRAD.turn_off()


def autograd_enabled() -> bool:
    """Whether :func:`enable_autograd` has switched autograd on (and nothing switched it off)."""
    return AUTOGRAD.is_on


def record(output: Tensor, function: type[Function], inputs: tuple[Any, ...],
           **arguments: Any) -> Tensor:
    """The last step of every differentiable operation: ``return record(out, MulBackward,
    (self, other))``. Attaches ``function`` to ``output`` if gradients can flow through it.

    That is when autograd is on (:func:`autograd_enabled`), grad mode is on (not inside
    ``no_grad()``) and at least one input is a Tensor that requires grad: the output then
    requires grad too, and ``output.grad_fn = function(inputs, output, **arguments)``
    remembers the inputs and the ``arguments`` its backward needs (``axis=``, ``cols=``...).
    Otherwise nothing is kept and memory is freed as usual. Returns ``output`` either way.

    An input that is not a Tensor (the ``2`` of ``x * 2``, a list, an array) becomes a
    constant Tensor, so that every Function sees Tensors: a Python number takes the
    output's float dtype, as it did in the computation (``float32_tensor * 0.1`` multiplied
    by float32 0.1), so gradients stay float32.
    """
    if not (_grad_enabled and AUTOGRAD.is_on):
        return output
    wanted = constants = False
    for value in inputs:
        if isinstance(value, Tensor):
            wanted = wanted or value.requires_grad
        else:
            constants = True
    if wanted:
        if constants:
            inputs = tuple(_constant_or_tensor(value, output.dtype) for value in inputs)
        output.requires_grad = True
        output.grad_fn = function(inputs, output, **arguments)
    return output


def _constant_or_tensor(value: Any, dtype: np.dtype) -> Tensor:
    """A Tensor stays itself; anything else becomes a constant Tensor (a Python number of
    the float ``dtype`` of the output it was computed with)."""
    if isinstance(value, Tensor):
        return value
    if isinstance(value, (bool, int, float)) and dtype.kind == "f":
        return Tensor(np.asarray(value, dtype=dtype))
    return Tensor(np.asarray(value))
