"""Generating text: greedy decoding, temperature, top-k, and batches of prompts."""

import warnings

import numpy as np
import pytest

from tinytorch.core import Tensor
from tinytorch.nn import GPT
from tinytorch.nn.transformers import sample_next_token

V, L = 13, 8
LOGITS = np.array([[2.0, -1.0, 0.5, 3.0, 0.0, 1.5, -2.0, 1.0]])
DRAWS = 6000


def model(seed=0, **kwargs):
    return GPT(V, L, 16, num_layers=2, num_heads=2, rng=seed, **kwargs)


def softmax(x):
    e = np.exp(x - x.max())
    return e / e.sum()


def frequencies(tokens, size):
    return np.bincount(tokens, minlength=size) / len(tokens)


# -- choosing one token from logits --------------------------------------------------------------

@pytest.mark.parametrize("temperature", [0.0, 1e-9])
def test_zero_or_tiny_temperature_is_the_argmax(temperature):
    logits = np.random.default_rng(0).standard_normal((5, 9))
    chosen = sample_next_token(logits, temperature=temperature, rng=0)
    assert chosen.dtype == np.int64
    np.testing.assert_array_equal(chosen, logits.argmax(axis=1))


def test_samples_follow_the_softmax_of_the_logits():
    chosen = sample_next_token(np.repeat(LOGITS, DRAWS, axis=0), rng=1)
    np.testing.assert_allclose(frequencies(chosen, 8), softmax(LOGITS[0]), atol=0.02)


def test_temperature_divides_the_logits():
    chosen = sample_next_token(np.repeat(LOGITS, DRAWS, axis=0), temperature=0.5, rng=2)
    np.testing.assert_allclose(frequencies(chosen, 8), softmax(LOGITS[0] / 0.5), atol=0.02)
    flat = sample_next_token(np.repeat(LOGITS, DRAWS, axis=0), temperature=4.0, rng=3)
    np.testing.assert_allclose(frequencies(flat, 8), softmax(LOGITS[0] / 4.0), atol=0.02)


def test_top_k_never_samples_outside_the_k_best():
    chosen = sample_next_token(np.repeat(LOGITS, DRAWS, axis=0), top_k=3, rng=4)
    best = [3, 0, 5]                                  # logits 3.0, 2.0 and 1.5
    assert set(np.unique(chosen)) == set(best)
    expected = np.zeros(8)
    expected[best] = softmax(LOGITS[0, best])
    np.testing.assert_allclose(frequencies(chosen, 8), expected, atol=0.02)
    np.testing.assert_array_equal(sample_next_token(LOGITS, top_k=1, rng=5), [3])
    everything = sample_next_token(np.repeat(LOGITS, DRAWS, axis=0), top_k=50, rng=6)
    assert len(np.unique(everything)) == 8


def test_top_k_keeps_the_k_best_of_each_row():
    logits = np.array([[0.0, 5.0, 4.0, -1.0], [9.0, -9.0, 0.0, 8.0]])
    chosen = sample_next_token(np.repeat(logits, 500, axis=0), top_k=2, rng=7).reshape(2, 500)
    assert set(np.unique(chosen[0])) == {1, 2}
    assert set(np.unique(chosen[1])) == {0, 3}


def test_huge_logits_sample_without_overflow():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        chosen = sample_next_token(np.array([[1000.0, 0.0, -1000.0]] * 50, dtype=np.float32), rng=8)
    np.testing.assert_array_equal(chosen, 0)


def test_seeded_sampling_is_reproducible():
    logits = np.repeat(LOGITS, 40, axis=0)
    np.testing.assert_array_equal(sample_next_token(logits, rng=9), sample_next_token(logits, rng=9))
    assert not np.array_equal(sample_next_token(logits, rng=9), sample_next_token(logits, rng=10))


@pytest.mark.parametrize("arguments, message", [({"temperature": -1.0}, "temperature"),
                                                ({"top_k": 0}, "top_k")])
def test_bad_sampling_settings_are_value_errors(arguments, message):
    with pytest.raises(ValueError, match=message):
        sample_next_token(LOGITS, **arguments)


# -- generating sequences -------------------------------------------------------------------------

def test_generate_appends_new_tokens_to_the_prompts():
    prompt = np.array([[1, 2, 3], [4, 5, 6]])
    out = model().generate(Tensor(prompt), max_new_tokens=4, rng=0)
    assert out.shape == (2, 7) and out.dtype == np.int64
    np.testing.assert_array_equal(out.numpy()[:, :3], prompt)
    assert out.numpy().min() >= 0 and out.numpy().max() < V
    np.testing.assert_array_equal(model().generate(prompt, max_new_tokens=0).numpy(), prompt)


def test_greedy_picks_the_argmax_of_a_full_forward_at_every_step():
    gpt = model(seed=1)
    out = gpt.generate(Tensor([[3, 7]]), max_new_tokens=5, temperature=0.0).numpy()
    for t in range(2, 7):
        assert out[0, t] == gpt(Tensor(out[:, :t])).numpy()[0, -1].argmax(), f"step {t - 2}"


def test_the_context_is_cropped_to_max_len():
    gpt = model(seed=2)
    prompt = np.random.default_rng(0).integers(0, V, (1, L + 3))
    out = gpt.generate(Tensor(prompt), max_new_tokens=4, temperature=0.0).numpy()
    assert out.shape == (1, L + 7)
    for t in range(L + 3, L + 7):
        assert out[0, t] == gpt(Tensor(out[:, t - L:t])).numpy()[0, -1].argmax()


def test_same_seed_same_text_and_different_seeds_different_text():
    gpt, prompt = model(seed=3), Tensor([[0, 1]])
    first = gpt.generate(prompt, max_new_tokens=20, temperature=2.0, rng=11).numpy()
    again = gpt.generate(prompt, max_new_tokens=20, temperature=2.0, rng=11).numpy()
    np.testing.assert_array_equal(again, first)
    assert not np.array_equal(gpt.generate(prompt, max_new_tokens=20, temperature=2.0, rng=12).numpy(), first)


def test_rows_of_a_batch_are_generated_independently():
    gpt = model(seed=4)
    prompts = np.array([[1, 2, 3], [9, 9, 0], [5, 4, 3]])
    together = gpt.generate(Tensor(prompts), max_new_tokens=6, temperature=0.0).numpy()
    for row in range(3):
        alone = gpt.generate(Tensor(prompts[row:row + 1]), max_new_tokens=6, temperature=0.0).numpy()
        np.testing.assert_array_equal(together[row], alone[0])
    zeros = Tensor(np.zeros((8, 1), dtype=np.int64))
    same_prompt = gpt.generate(zeros, max_new_tokens=10, temperature=2.0, rng=0)
    assert len({tuple(row) for row in same_prompt.numpy()}) > 1      # samples, not copies of one


def test_generation_runs_in_eval_mode_and_restores_the_mode():
    gpt = model(seed=5, dropout=0.5)
    prompt = Tensor([[1, 2]])
    first = gpt.generate(prompt, max_new_tokens=8, temperature=0.0).numpy()
    np.testing.assert_array_equal(gpt.generate(prompt, max_new_tokens=8, temperature=0.0).numpy(), first)
    assert gpt.training
    gpt.eval()
    gpt.generate(prompt, max_new_tokens=1)
    assert not gpt.training


def test_a_prompt_that_is_not_a_batch_is_a_value_error():
    with pytest.raises(ValueError, match=r"\(3,\)"):
        model().generate(Tensor([1, 2, 3]), max_new_tokens=2)
