"""no_grad, the autograd switch, and the promise that katas 01-04 keep working unchanged."""

import textwrap
from pathlib import Path

import numpy as np
import pytest

import tinytorch
from pytest_tinytorch.child import run_python
from tinytorch.core import GELU, LogSoftmax, ReLU, Sigmoid, Softmax, Tanh, Tensor
from tinytorch.core.autograd import (
    AddBackward,
    BCELossBackward,
    BCEWithLogitsLossBackward,
    CrossEntropyLossBackward,
    DivBackward,
    ExpBackward,
    GELUBackward,
    GetItemBackward,
    LogBackward,
    LogSoftmaxBackward,
    MatMulBackward,
    MaxBackward,
    MeanBackward,
    MSELossBackward,
    MulBackward,
    NegBackward,
    PowBackward,
    ReLUBackward,
    ReshapeBackward,
    SigmoidBackward,
    SoftmaxBackward,
    SubBackward,
    SumBackward,
    TanhBackward,
    TransposeBackward,
    autograd_enabled,
    backpropagate,
    disable_autograd,
    enable_autograd,
    is_grad_enabled,
    no_grad,
)
from tinytorch.nn import BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, MSELoss


def test_no_grad_records_nothing_and_recording_resumes_after_it():
    x = Tensor([1.0, 2.0], requires_grad=True)
    with no_grad():
        assert not is_grad_enabled()
        y = x * 3.0 + 1.0
    assert is_grad_enabled()
    assert y.requires_grad is False and y.grad_fn is None
    (x * 3.0).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [3.0, 3.0])


def test_no_grad_nests():
    x = Tensor([2.0], requires_grad=True)
    with no_grad():
        with no_grad():
            pass
        assert not is_grad_enabled(), "leaving the inner block switched recording back on"
        assert (x * x).grad_fn is None
    (x * x).sum().backward()
    assert x.grad.item() == 4.0


def test_no_grad_restores_recording_after_an_exception():
    with pytest.raises(KeyError), no_grad():
        raise KeyError("boom")
    assert is_grad_enabled()
    x = Tensor([2.0], requires_grad=True)
    (x * 5.0).sum().backward()
    assert x.grad.item() == 5.0


def test_a_parameter_update_under_no_grad_leaves_the_graph_alone():
    w = Tensor([1.0, -1.0], requires_grad=True)
    (w * w).sum().backward()
    with no_grad():
        w.data = (w - w.grad * 0.25).data        # what an optimizer step does
    assert w.grad_fn is None and w.requires_grad
    w.grad = None
    (w * w).sum().backward()
    np.testing.assert_array_equal(w.grad.numpy(), [1.0, -1.0])


def test_operations_on_data_record_nothing():
    data = Tensor([[1.0, 2.0], [3.0, 4.0]])
    out = (data @ data).sum() * 2.0
    assert out.requires_grad is False and out.grad_fn is None
    w = Tensor([[1.0], [1.0]], requires_grad=True)
    (data @ w).sum().backward()
    np.testing.assert_array_equal(w.grad.numpy(), [[4.0], [6.0]])


def test_enabling_twice_records_each_operation_once(monkeypatch):
    enable_autograd()
    methods = (Tensor.__mul__, Tensor.sum, ReLU.forward, CrossEntropyLoss.forward)
    enable_autograd()
    assert autograd_enabled() and Tensor.backward is backpropagate
    assert (Tensor.__mul__, Tensor.sum, ReLU.forward, CrossEntropyLoss.forward) == methods
    made = []
    original_init = MulBackward.__init__

    def counting_init(self, *args, **kwargs):
        made.append(self)
        original_init(self, *args, **kwargs)

    monkeypatch.setattr(MulBackward, "__init__", counting_init)
    x = Tensor([1.0, 2.0], requires_grad=True)
    (x * x).sum().backward()
    assert len(made) == 1
    np.testing.assert_array_equal(x.grad.numpy(), [2.0, 4.0])


def test_disable_autograd_puts_the_gradients_back_to_sleep():
    x = Tensor([1.0, 2.0], requires_grad=True)
    disable_autograd()
    assert not autograd_enabled()
    y = (x * x).sum()
    y.backward()                                     # kata 01's dormant backward again
    assert y.requires_grad is False and y.grad_fn is None and x.grad is None
    enable_autograd()
    (x * x).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [2.0, 4.0])


def test_an_operation_records_its_inputs_in_order_with_numbers_as_constants():
    x = Tensor(np.array([1.0, 4.0], dtype=np.float32), requires_grad=True)
    y = 2.5 - x                                      # x.__rsub__(2.5): the inputs are (2.5, x)
    assert type(y.grad_fn) is SubBackward
    constant, same = y.grad_fn.inputs
    assert same is x and constant.requires_grad is False
    assert constant.dtype == np.float32 and constant.item() == 2.5
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [-1.0, -1.0])


HALVES = np.full((2, 2), 0.5, dtype=np.float32)
EVERY_OPERATION = [  # (what, the operation on a (2, 2) leaf a, the Function it records)
    ("a + 1", lambda a: a + 1, AddBackward), ("1 + a", lambda a: 1 + a, AddBackward),
    ("a - 1", lambda a: a - 1, SubBackward), ("1 - a", lambda a: 1 - a, SubBackward),
    ("a * 2", lambda a: a * 2, MulBackward), ("2 * a", lambda a: 2 * a, MulBackward),
    ("a / 2", lambda a: a / 2, DivBackward), ("2 / a", lambda a: 2 / a, DivBackward),
    ("-a", lambda a: -a, NegBackward), ("a ** 2", lambda a: a ** 2, PowBackward),
    ("a.exp()", lambda a: a.exp(), ExpBackward), ("a.log()", lambda a: a.log(), LogBackward),
    ("a @ a", lambda a: a @ a, MatMulBackward), ("a.sum()", lambda a: a.sum(), SumBackward),
    ("a.mean(axis=0)", lambda a: a.mean(axis=0), MeanBackward),
    ("a.max(axis=1)", lambda a: a.max(axis=1), MaxBackward),
    ("a.reshape(4)", lambda a: a.reshape(4), ReshapeBackward),
    ("a.transpose()", lambda a: a.transpose(), TransposeBackward),
    ("a[0]", lambda a: a[0], GetItemBackward),
    ("ReLU()(a)", lambda a: ReLU()(a), ReLUBackward), ("Sigmoid()(a)", lambda a: Sigmoid()(a), SigmoidBackward),
    ("Tanh()(a)", lambda a: Tanh()(a), TanhBackward), ("GELU()(a)", lambda a: GELU()(a), GELUBackward),
    ("Softmax()(a)", lambda a: Softmax()(a), SoftmaxBackward),
    ("LogSoftmax()(a)", lambda a: LogSoftmax()(a), LogSoftmaxBackward),
    ("MSELoss()(a, t)", lambda a: MSELoss()(a, Tensor(HALVES)), MSELossBackward),
    ("CrossEntropyLoss()(a, t)", lambda a: CrossEntropyLoss()(a, Tensor([0, 1])), CrossEntropyLossBackward),
    ("BCELoss()(a, t)", lambda a: BCELoss()(a, Tensor(HALVES)), BCELossBackward),
    ("BCEWithLogitsLoss()(a, t)", lambda a: BCEWithLogitsLoss()(a, Tensor(HALVES)), BCEWithLogitsLossBackward),
]


@pytest.mark.parametrize("what, operation, function", EVERY_OPERATION, ids=[o[0] for o in EVERY_OPERATION])
def test_every_operation_of_katas_01_to_04_records_its_function(what, operation, function):
    a = Tensor(np.array([[0.25, 0.5], [0.75, 0.125]], dtype=np.float32), requires_grad=True)
    out = operation(a)
    recorded = type(out.grad_fn).__name__ if out.grad_fn is not None else "nothing"
    assert type(out.grad_fn) is function and out.requires_grad, (
        f"{what} recorded {recorded}, not {function.__name__}: its operation ends with a given line, "
        f"`return record(out, {function.__name__}, ...)`, which a `return` before it skips: leave "
        f"the result in `out` instead")
    assert any(tensor is a for tensor in out.grad_fn.inputs)


def test_katas_01_to_04_see_the_same_values_dtypes_and_errors():
    x = Tensor([[1.0, 2.0, 3.0]], requires_grad=True)
    ints = Tensor([1, 2, 3])
    assert (x * 2.5).dtype == np.float32 and (ints * 2).dtype == np.int64
    assert (ints + x).dtype == np.float32 and (x / ints).dtype == np.float32
    assert (x > 1.5).dtype == np.bool_
    np.testing.assert_array_equal((x @ x.transpose()).numpy(), [[14.0]])
    with pytest.raises(ValueError, match=r"\(1, 3\).*\(2,\)"):
        x + Tensor([1.0, 2.0])
    with pytest.raises(ValueError, match=r"\(1, 3\).*\(2, 2\)"):
        x @ Tensor(np.ones((2, 2), dtype=np.float32))
    with pytest.raises(ValueError, match="classes"):
        CrossEntropyLoss()(x, Tensor([7]))
    (x * 2.5).sum().backward()
    assert x.grad.dtype == np.float32
    np.testing.assert_array_equal(x.grad.numpy(), [[2.5, 2.5, 2.5]])


def test_backward_is_dormant_until_enable_autograd_is_called():
    """A fresh interpreter: importing TinyTorch must not switch autograd on by itself."""
    script = textwrap.dedent("""
        import numpy as np
        import tinytorch.nn
        from tinytorch.core import Tensor
        x = Tensor([1.0, 2.0], requires_grad=True)
        y = (x * x).sum()
        y.backward()
        assert y.grad_fn is None and x.grad is None, "autograd was on before enable_autograd()"
        from tinytorch.core.autograd import enable_autograd
        enable_autograd()
        (x * x).sum().backward()
        print(x.grad.numpy().tolist())
    """)
    package_parent = Path(tinytorch.__file__).resolve().parents[1]
    completed = run_python(script, cwd=package_parent)
    assert completed.returncode == 0, completed.stderr[-2000:]
    assert completed.stdout.strip() == "[2.0, 4.0]"
