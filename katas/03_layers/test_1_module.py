"""Module: parameters register themselves, modes reach every child, state is copied."""

import numpy as np
import pytest

from tinytorch.core import Tensor
from tinytorch.nn import Module


def parameter(values) -> Tensor:
    return Tensor(np.asarray(values, dtype=np.float32), requires_grad=True)


class Affine(Module):
    """y = x * scale + shift, with a constant and a label that are not parameters."""

    def __init__(self, size: int = 3) -> None:
        super().__init__()
        self.scale = parameter(np.arange(1, size + 1))
        self.constant = Tensor(np.ones(size, dtype=np.float32))  # requires_grad=False
        self.shift = parameter(np.full(size, 0.5))
        self.label = "affine"

    def forward(self, x: Tensor) -> Tensor:
        return x * self.scale + self.shift


class Pair(Module):
    def __init__(self, first: Module, second: Module) -> None:
        super().__init__()
        self.first = first
        self.second = second

    def forward(self, x: Tensor) -> Tensor:
        return self.second(self.first(x))


def test_parameters_register_themselves_in_assignment_order():
    m = Affine()
    assert [name for name, _ in m.named_parameters()] == ["scale", "shift"]
    params = m.parameters()
    assert len(params) == 2
    assert params[0] is m.scale and params[1] is m.shift


def test_only_tensors_that_require_grad_are_parameters():
    m = Affine()
    assert all(p is not m.constant for p in m.parameters())
    assert m.label == "affine"
    np.testing.assert_array_equal(m.constant.numpy(), np.ones(3))


def test_sub_modules_give_dotted_names():
    model = Pair(Affine(), Pair(Affine(), Affine()))
    assert [name for name, _ in model.named_parameters()] == [
        "first.scale", "first.shift",
        "second.first.scale", "second.first.shift",
        "second.second.scale", "second.second.shift",
    ]
    assert model.parameters()[2] is model.second.first.scale


def test_named_modules_walks_depth_first():
    model = Pair(Affine(), Pair(Affine(), Affine()))
    names = [name for name, _ in model.named_modules()]
    assert names == ["", "first", "second", "second.first", "second.second"]
    assert dict(model.named_modules())["second.second"] is model.second.second


def test_assigning_a_parameter_again_replaces_it():
    m = Affine()
    new_scale = parameter([7.0, 8.0, 9.0])
    m.scale = new_scale
    assert [name for name, _ in m.named_parameters()] == ["scale", "shift"]
    assert m.parameters()[0] is new_scale
    assert len(m.parameters()) == 2


def test_assigning_a_non_parameter_unregisters_the_name():
    m = Affine()
    m.shift = None
    assert [name for name, _ in m.named_parameters()] == ["scale"]
    m.scale = Tensor([1.0, 2.0, 3.0])  # no longer requires grad
    assert m.parameters() == []


def test_a_shared_module_or_tensor_is_counted_once():
    shared = Affine()
    tied = Pair(shared, shared)
    assert len(tied.parameters()) == 2
    assert [name for name, _ in tied.named_parameters()] == ["first.scale", "first.shift"]
    other = Affine()
    other.scale = shared.scale
    assert len(Pair(shared, other).parameters()) == 3



def test_a_module_registered_under_two_names_is_listed_under_each():
    shared = Affine()
    model = Pair(shared, Pair(shared, Affine()))
    names = [name for name, _ in model.named_modules()]
    assert names == ["", "first", "second", "second.first", "second.second"], (
        "named_modules lists a shared module under every name it is registered with")
    modules = dict(model.named_modules())
    assert modules["first"] is modules["second.first"] is shared
    twice = Pair(shared, shared)
    assert [name for name, _ in twice.named_modules()] == ["", "first", "second"]


def test_a_shared_module_keeps_the_first_name_it_is_found_with():
    shared, alone = Affine(), Affine()
    model = Pair(Pair(alone, shared), shared)
    assert [name for name, _ in model.named_parameters()] == [
        "first.first.scale", "first.first.shift", "first.second.scale", "first.second.shift"]
    expected = [alone.scale, alone.shift, shared.scale, shared.shift]
    parameters = model.parameters()
    assert len(parameters) == 4 and all(a is b for a, b in zip(parameters, expected))


def test_a_tensor_tied_between_two_modules_is_one_parameter_under_its_first_name():
    first, second = Affine(), Affine()
    second.shift = first.scale                       # weight tying: one Tensor, two modules
    model = Pair(first, second)
    named = list(model.named_parameters())
    assert [name for name, _ in named] == ["first.scale", "first.shift", "second.scale"]
    assert named[0][1] is first.scale
    assert [p.size for p in model.parameters()] == [3, 3, 3]


def test_the_state_dict_of_a_shared_module_saves_its_parameters_once_and_loads_back():
    shared = Counter()
    model = Pair(shared, Pair(shared, Affine()))
    model(Tensor(np.ones(3, dtype=np.float32)))     # the shared buffer counts both calls
    state = model.state_dict()
    parameter_names = [name for name, _ in model.named_parameters()]
    assert [name for name in state if name in parameter_names] == parameter_names
    assert not any(name.startswith("second.first.inner.") for name in state), (
        "a shared module's parameters are one set of arrays: saved once, under its first name")
    np.testing.assert_array_equal(state["first.seen"], [2.0, 2.0, 2.0])

    copy_shared = Counter()
    copy = Pair(copy_shared, Pair(copy_shared, Affine()))
    copy_shared.inner.scale.data[:] = 0.0
    copy.load_state_dict(state)
    for name, value in copy.state_dict().items():
        np.testing.assert_array_equal(value, state[name], err_msg=name)
    assert copy.second.first is copy.first, "loading keeps the sharing"
    np.testing.assert_array_equal(copy_shared.inner.scale.numpy(), [1.0, 2.0, 3.0])


def test_eval_and_train_reach_a_shared_module_and_its_children():
    shared = Pair(Affine(), Affine())
    model = Pair(Pair(Affine(), shared), shared)
    modules = [m for _, m in model.named_modules()]
    model.eval()
    assert not any(m.training for m in modules), "eval() sets training = False once per module"
    model.train()
    assert all(m.training for m in modules)
    model.train(False)
    model.train(False)
    assert not shared.training and not shared.second.training

def test_calling_a_module_runs_forward():
    m = Affine()
    out = m(Tensor([[1.0, 1.0, 1.0], [2.0, 0.0, -1.0]]))
    np.testing.assert_allclose(out.numpy(), [[1.5, 2.5, 3.5], [2.5, 0.5, -2.5]])


def test_assigning_before_super_init_says_what_to_do():
    class Forgetful(Module):
        def __init__(self) -> None:
            self.weight = parameter([1.0])
            super().__init__()

    with pytest.raises(AttributeError, match=r"super\(\).__init__\(\)"):
        Forgetful()


def test_eval_and_train_reach_every_descendant():
    model = Pair(Affine(), Pair(Affine(), Affine()))
    modules = [m for _, m in model.named_modules()]
    assert all(m.training for m in modules)
    assert model.eval() is model
    assert not any(m.training for m in modules)
    assert model.train() is model
    assert all(m.training for m in modules)
    model.second.train(False)
    assert model.training and model.first.training
    assert not model.second.training and not model.second.second.training


def test_state_dict_holds_copies_of_every_parameter():
    model = Pair(Affine(), Affine())
    state = model.state_dict()
    assert list(state) == ["first.scale", "first.shift", "second.scale", "second.shift"]
    assert all(isinstance(value, np.ndarray) for value in state.values())
    np.testing.assert_array_equal(state["first.scale"], [1.0, 2.0, 3.0])
    model.first.scale.data[0] = 100.0           # training goes on ...
    assert state["first.scale"][0] == 1.0       # ... the checkpoint does not move
    state["second.shift"][:] = -1.0
    np.testing.assert_array_equal(model.second.shift.numpy(), [0.5, 0.5, 0.5])


def test_load_state_dict_restores_values_into_the_same_tensors():
    source, target = Pair(Affine(), Affine()), Pair(Affine(), Affine())
    source.first.scale.data[:] = [3.0, 2.0, 1.0]
    source.second.shift.data[:] = [-1.0, 0.0, 1.0]
    before = target.parameters()
    state = source.state_dict()
    target.load_state_dict(state)
    assert all(a is b for a, b in zip(before, target.parameters()))
    for name, value in target.state_dict().items():
        np.testing.assert_array_equal(value, state[name])
    state["first.scale"][:] = 0.0
    np.testing.assert_array_equal(target.first.scale.numpy(), [3.0, 2.0, 1.0])
    assert target.first.scale.dtype == np.float32


class Counter(Module):
    """Affine plus a buffer: state that is saved but never trained."""

    def __init__(self) -> None:
        super().__init__()
        self.inner = Affine()
        self.register_buffer("seen", np.zeros(3, dtype=np.float32))

    def forward(self, x: Tensor) -> Tensor:
        self.seen += 1.0
        return self.inner(x)


def test_state_dict_saves_buffers_after_the_parameters_and_load_restores_them():
    model = Counter()
    model(Tensor(np.ones(3, dtype=np.float32)))
    state = model.state_dict()
    assert list(state) == ["inner.scale", "inner.shift", "seen"]
    assert [name for name, _ in model.named_parameters()] == ["inner.scale", "inner.shift"]
    np.testing.assert_array_equal(state["seen"], [1.0, 1.0, 1.0])
    model.seen += 5.0                              # the buffer goes on ...
    assert state["seen"][0] == 1.0                 # ... the saved copy does not

    fresh = Counter()
    buffer = fresh.seen
    fresh.load_state_dict(state)
    assert fresh.seen is buffer                    # copied into the same array
    np.testing.assert_array_equal(fresh.seen, [1.0, 1.0, 1.0])
    del state["seen"]
    with pytest.raises(ValueError, match="seen"):
        fresh.load_state_dict(state)


def test_load_state_dict_names_missing_and_unexpected_keys():
    model = Pair(Affine(), Affine())
    state = model.state_dict()
    del state["second.shift"]
    state["third.scale"] = np.zeros(3, dtype=np.float32)
    with pytest.raises(ValueError) as error:
        model.load_state_dict(state)
    assert "second.shift" in str(error.value) and "third.scale" in str(error.value)


def test_load_state_dict_names_a_shape_mismatch_and_changes_nothing():
    model = Pair(Affine(), Affine())
    state = model.state_dict()
    state["first.scale"] = np.array([9.0, 9.0, 9.0], dtype=np.float32)  # fine on its own
    state["second.scale"] = np.zeros(4, dtype=np.float32)               # wrong shape
    with pytest.raises(ValueError) as error:
        model.load_state_dict(state)
    message = str(error.value)
    assert "second.scale" in message and "(3,)" in message and "(4,)" in message
    np.testing.assert_array_equal(model.first.scale.numpy(), [1.0, 2.0, 3.0])
