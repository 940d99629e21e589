"""no_grad, enable_autograd, and the promise that katas 01-04 keep working unchanged."""

import textwrap
from pathlib import Path

import numpy as np
import pytest

import tinytorch
from pytest_tinytorch.child import run_python
from tinytorch.core import ReLU, Tensor
from tinytorch.core.autograd import MulBackward, enable_autograd, is_grad_enabled, no_grad
from tinytorch.nn import CrossEntropyLoss


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


def test_enabling_twice_does_not_wrap_twice(monkeypatch):
    enable_autograd()
    methods = (Tensor.__mul__, Tensor.sum, ReLU.forward, CrossEntropyLoss.forward, Tensor.backward)
    enable_autograd()
    assert (Tensor.__mul__, Tensor.sum, ReLU.forward, CrossEntropyLoss.forward,
            Tensor.backward) == methods
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
