"""generate and sample_next_token check their arguments before producing a single token."""

import numpy as np
import pytest

from tinytorch.core import Tensor
from tinytorch.nn import GPT
from tinytorch.nn.transformers import sample_next_token

V, L = 13, 8
LOGITS = np.array([[2.0, -1.0, 0.5, 3.0]])


def model():
    return GPT(V, L, 16, num_layers=1, num_heads=2, rng=0)


@pytest.mark.parametrize("prompt", [[[1.5, 2.0]], np.array([[1.0, 2.0]]), np.array([[True, False]])])
def test_token_ids_that_are_not_integers_are_a_type_error(prompt):
    with pytest.raises(TypeError, match="integer"):
        model().generate(prompt, max_new_tokens=1)


@pytest.mark.parametrize("bad", [V, -1, 1000])
def test_token_ids_outside_the_vocabulary_are_named(bad):
    with pytest.raises(ValueError, match=rf"\[{bad}\].*{V}"):
        model().generate(Tensor([[0, bad, 2]]), max_new_tokens=1)


def test_integer_prompts_of_any_integer_dtype_work():
    out = model().generate(np.array([[1, 12]], dtype=np.int32), max_new_tokens=2, temperature=0.0)
    assert out.dtype == np.int64 and out.shape == (1, 4)


@pytest.mark.parametrize("steps, error", [(2.5, TypeError), ("3", TypeError), (-1, ValueError)])
def test_max_new_tokens_must_be_a_non_negative_integer(steps, error):
    with pytest.raises(error, match="max_new_tokens"):
        model().generate(Tensor([[1, 2]]), max_new_tokens=steps)


@pytest.mark.parametrize("temperature", [float("nan"), float("inf"), -0.5])
def test_a_temperature_that_is_not_finite_and_non_negative_is_named(temperature):
    with pytest.raises(ValueError, match=rf"temperature.*{temperature}"):
        sample_next_token(LOGITS, temperature=temperature, rng=0)
    with pytest.raises(ValueError, match="temperature"):
        model().generate(Tensor([[1, 2]]), max_new_tokens=3, temperature=temperature)


@pytest.mark.parametrize("arguments", [{"temperature": "1.0"}, {"temperature": None}, {"top_k": 2.5},
                                       {"top_k": "3"}])
def test_sampling_settings_that_are_not_numbers_are_type_errors(arguments):
    with pytest.raises(TypeError, match=next(iter(arguments))):
        sample_next_token(LOGITS, rng=0, **arguments)
