"""Knowledge distillation: the soft-target loss at a temperature, and training with it.

The loss is checked against the NumPy formula at several temperatures: without the T**2
the figures are off by T**2, and softening only one side makes the loss non-zero when the
student matches the teacher exactly. gradcheck confirms that gradients flow.
"""

import numpy as np
import pytest

from pytest_tinytorch.gradcheck import gradcheck
from tinytorch.core import ReLU, Tensor, is_grad_enabled
from tinytorch.nn import Linear, Module, Sequential
from tinytorch.optim import Adam
from tinytorch.systems.compression import distill, distillation_loss, soft_target_loss

rng = np.random.default_rng(16)
STUDENT = (rng.standard_normal((4, 5)) * 2).astype(np.float32)
TEACHER = (rng.standard_normal((4, 5)) * 3).astype(np.float32)
TARGETS = np.array([0, 3, 1, 4])


@pytest.mark.parametrize("temperature", [1.0, 2.0, 4.0, 10.0])
def test_the_loss_is_t_squared_times_the_mean_kl_of_the_softened_distributions(temperature, formulas):
    loss = soft_target_loss(Tensor(STUDENT), Tensor(TEACHER), temperature)
    assert loss.shape == () and loss.dtype == np.float32
    expected = formulas.soft_target_loss(STUDENT, TEACHER, temperature)
    assert loss.item() == pytest.approx(expected, rel=1e-4)


def test_the_loss_is_zero_when_the_student_matches_and_positive_otherwise():
    for temperature in (1.0, 4.0):
        assert soft_target_loss(Tensor(TEACHER), TEACHER, temperature).item() == pytest.approx(0.0, abs=1e-5)
        assert soft_target_loss(Tensor(STUDENT), TEACHER, temperature).item() > 0.01


@pytest.mark.parametrize("temperature", [1.0, 3.0])
def test_gradcheck_through_the_student_logits(temperature):
    teacher = TEACHER.astype(np.float64)
    gradcheck(lambda s: soft_target_loss(s, teacher, temperature), STUDENT)


def test_the_gradient_is_t_times_the_difference_of_the_probabilities(formulas):
    """d loss / d student = T * (softmax(s / T) - softmax(t / T)) / N, and nothing reaches the teacher."""
    temperature = 4.0
    student = Tensor(STUDENT.astype(np.float64), requires_grad=True)
    teacher = Tensor(TEACHER.astype(np.float64), requires_grad=True)
    soft_target_loss(student, teacher, temperature).backward()
    p_student = np.exp(formulas.log_softmax(STUDENT / temperature))
    p_teacher = np.exp(formulas.log_softmax(TEACHER / temperature))
    np.testing.assert_allclose(student.grad.numpy(), temperature * (p_student - p_teacher) / 4, atol=1e-8)
    assert teacher.grad is None, "the teacher is fixed: no gradient may flow into it"


def test_distillation_loss_mixes_soft_targets_and_cross_entropy(formulas):
    for alpha in (0.0, 0.3, 1.0):
        loss = distillation_loss(Tensor(STUDENT), Tensor(TEACHER), Tensor(TARGETS), temperature=3.0, alpha=alpha)
        expected = (alpha * formulas.soft_target_loss(STUDENT, TEACHER, 3.0)
                    + (1 - alpha) * formulas.cross_entropy(STUDENT, TARGETS))
        assert loss.item() == pytest.approx(expected, rel=1e-4), f"alpha={alpha}"
    gradcheck(lambda s: distillation_loss(s, TEACHER.astype(np.float64), Tensor(TARGETS), 2.0, 0.6), STUDENT)


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match=r"\(4, 5\).*\(4, 6\)"):
        soft_target_loss(Tensor(STUDENT), np.zeros((4, 6), dtype=np.float32), 2.0)
    with pytest.raises(ValueError, match="temperature"):
        soft_target_loss(Tensor(STUDENT), TEACHER, 0.0)
    with pytest.raises(ValueError, match="alpha"):
        distillation_loss(Tensor(STUDENT), TEACHER, Tensor(TARGETS), 2.0, alpha=1.5)


class CountingTeacher(Module):
    """A teacher that counts its calls and remembers how it was called."""

    def __init__(self) -> None:
        super().__init__()
        self.net = Sequential(Linear(6, 16, rng=0), ReLU(), Linear(16, 3, rng=1))
        self.calls = []

    def forward(self, x):
        self.calls.append((self.training, is_grad_enabled()))
        return self.net(x)


def test_distill_runs_the_teacher_once_per_batch_and_pulls_the_student_towards_it():
    data = np.random.default_rng(5).standard_normal((60, 6)).astype(np.float32)
    labels = np.random.default_rng(6).integers(0, 3, 60)
    batches = [(Tensor(data[i:i + 20]), Tensor(labels[i:i + 20])) for i in range(0, 60, 20)]
    teacher = CountingTeacher()
    teacher_weights = teacher.state_dict()
    student = Sequential(Linear(6, 4, rng=2), ReLU(), Linear(4, 3, rng=3))

    def gap():
        logits = teacher.net(Tensor(data)).numpy()
        return soft_target_loss(student(Tensor(data)), logits, 2.0).item()

    before = gap()
    history = distill(student, teacher, batches, Adam(student.parameters(), lr=0.02), epochs=10,
                      temperature=2.0, alpha=1.0)
    assert len(history) == 10 and set(history[0]) == {"loss", "accuracy"}
    assert teacher.calls == [(False, False)] * 3, "the teacher runs once per batch, in eval(), under no_grad()"
    assert gap() < 0.5 * before
    assert history[-1]["loss"] < history[0]["loss"]
    for name, array in teacher.state_dict().items():
        np.testing.assert_array_equal(array, teacher_weights[name])
    with pytest.raises(ValueError, match="epochs"):
        distill(student, teacher, batches, Adam(student.parameters()), epochs=0)
