"""Generating with the cache: the same text as GPT.generate, for a fraction of the work."""

import numpy as np
import pytest

from tinytorch.core import Tensor
from tinytorch.nn import GPT
from tinytorch.systems.memoization import generate_cached

VOCAB, MAX_LEN = 17, 16
PROMPTS = np.random.default_rng(2).integers(0, VOCAB, (3, 5))


def model(seed=0, **kwargs):
    return GPT(VOCAB, MAX_LEN, 16, num_layers=2, num_heads=2, rng=seed, **kwargs)


def test_greedy_generation_gives_the_same_tokens_as_recomputing(float64):
    for gpt in [model(seed=1), float64(model(seed=1))]:
        cached = generate_cached(gpt, Tensor(PROMPTS), max_new_tokens=10, temperature=0.0)
        assert cached.shape == (3, 15) and cached.dtype == np.int64
        np.testing.assert_array_equal(cached.numpy()[:, :5], PROMPTS)
        np.testing.assert_array_equal(cached.numpy(), gpt.generate(Tensor(PROMPTS), 10, temperature=0.0).numpy())


@pytest.mark.parametrize("temperature, top_k", [(1.0, None), (2.0, None), (0.8, 4)])
def test_sampling_with_the_same_seed_gives_the_same_text(temperature, top_k):
    gpt = model(seed=2)
    prompt = np.zeros((4, 1), dtype=np.int64)
    cached = generate_cached(gpt, prompt, 12, temperature=temperature, top_k=top_k, rng=5).numpy()
    expected = gpt.generate(prompt, 12, temperature=temperature, top_k=top_k, rng=5).numpy()
    np.testing.assert_array_equal(cached, expected)
    assert len({tuple(row) for row in cached}) > 1                  # samples, not four copies of one


def test_prefill_once_then_one_token_per_step(token_counter):
    gpt = model(seed=3)
    steps = token_counter(gpt)
    generate_cached(gpt, PROMPTS, max_new_tokens=6, temperature=0.0)
    assert steps == [5, 1, 1, 1, 1, 1]      # no forward after the last token is chosen
    steps.clear()
    gpt.generate(Tensor(PROMPTS), 6, temperature=0.0)
    assert steps == [5, 6, 7, 8, 9, 10]     # what recomputing costs
    steps.clear()
    assert generate_cached(gpt, PROMPTS, max_new_tokens=0).numpy().tolist() == PROMPTS.tolist()
    assert steps == []


def test_each_call_starts_from_an_empty_cache():
    gpt = model(seed=4)
    first = generate_cached(gpt, PROMPTS, 8, temperature=0.0).numpy()
    np.testing.assert_array_equal(generate_cached(gpt, PROMPTS, 8, temperature=0.0).numpy(), first)
    other = PROMPTS[:, ::-1].copy()
    np.testing.assert_array_equal(generate_cached(gpt, other, 8, temperature=0.0).numpy(),
                                  gpt.generate(other, 8, temperature=0.0).numpy())
    single = generate_cached(gpt, PROMPTS[:1, :2], 3, temperature=0.0).numpy()  # a new batch size
    np.testing.assert_array_equal(single, gpt.generate(PROMPTS[:1, :2], 3, temperature=0.0).numpy())


def test_rows_of_a_batch_are_generated_independently():
    gpt = model(seed=5)
    together = generate_cached(gpt, PROMPTS, 9, temperature=0.0).numpy()
    for row in range(3):
        alone = generate_cached(gpt, PROMPTS[row:row + 1], 9, temperature=0.0).numpy()
        np.testing.assert_array_equal(together[row], alone[0])


def test_past_max_len_the_window_slides_exactly_as_in_generate(token_counter, rng):
    gpt = model(seed=6)
    steps = token_counter(gpt)
    cached = generate_cached(gpt, PROMPTS, max_new_tokens=15, temperature=1.5, rng=3).numpy()
    assert cached.shape == (3, 20)
    # positions 0..15 exist: a prefill of 5, then 11 single tokens fill the cache (5 + 11 = 16);
    # every later step must re-run the last 16 tokens, since each of them moved one position
    assert steps == [5] + [1] * 11 + [MAX_LEN] * 3
    np.testing.assert_array_equal(cached, gpt.generate(PROMPTS, 15, temperature=1.5, rng=3).numpy())
    long_prompt = rng.integers(0, VOCAB, (2, MAX_LEN + 3))
    np.testing.assert_array_equal(generate_cached(gpt, long_prompt, 3, temperature=0.0).numpy(),
                                  gpt.generate(long_prompt, 3, temperature=0.0).numpy())


def test_generation_runs_in_eval_mode_and_restores_the_mode():
    gpt = model(seed=7, dropout=0.5)
    out = generate_cached(gpt, PROMPTS, 6, temperature=0.0).numpy()
    assert gpt.training
    np.testing.assert_array_equal(out, gpt.generate(PROMPTS, 6, temperature=0.0).numpy())
    gpt.eval()
    generate_cached(gpt, PROMPTS, 1)
    assert not gpt.training


def test_bad_prompts_are_value_errors():
    gpt = model()
    with pytest.raises(ValueError, match=r"\(3,\)"):
        generate_cached(gpt, Tensor([1, 2, 3]), 2)
    with pytest.raises(ValueError, match=r"\(2, 0\)"):
        generate_cached(gpt, np.zeros((2, 0), dtype=np.int64), 2)
    with pytest.raises(ValueError, match="max_new_tokens"):
        generate_cached(gpt, PROMPTS, -1)
