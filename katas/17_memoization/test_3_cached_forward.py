"""A GPT with a cache: prefill the prompt, then one token at a time, same logits as recomputing."""

import numpy as np
import pytest

from tinytorch.core import Tensor, no_grad
from tinytorch.nn import GPT
from tinytorch.systems.memoization import GPTCache, KVCache, cached_forward

VOCAB, MAX_LEN, DIM, LAYERS, HEADS = 13, 12, 16, 2, 2
EXACT = 1e-9          # float64: cached and full forwards differ only by rounding (about 1e-15)
SEQUENCE = np.random.default_rng(1).integers(0, VOCAB, (2, MAX_LEN))


@pytest.fixture
def small_gpt(float64):
    """``small_gpt(seed)``: a random GPT, in float64 unless ``float64_weights=False``."""
    def make(seed=0, float64_weights=True):
        model = GPT(VOCAB, MAX_LEN, DIM, LAYERS, HEADS, rng=seed)
        return float64(model) if float64_weights else model
    return make


def full(model, tokens):
    """Logits of every position, recomputed from scratch by the model's own forward."""
    with no_grad():
        return model(Tensor(tokens)).numpy()


def test_one_kv_cache_per_block_of_the_model(small_gpt):
    model = small_gpt(float64_weights=False)
    cache = GPTCache(model, batch_size=3)
    assert len(cache.layers) == LAYERS and all(isinstance(layer, KVCache) for layer in cache.layers)
    head_dim = DIM // HEADS
    for layer in cache.layers:
        assert layer.keys.shape == layer.values.shape == (3, HEADS, MAX_LEN, head_dim)
        assert layer.keys.dtype == np.float32
    assert cache.length == 0
    assert cache.nbytes == sum(layer.keys.nbytes + layer.values.nbytes for layer in cache.layers)
    assert cache.nbytes == 2 * LAYERS * 3 * HEADS * MAX_LEN * head_dim * 4
    assert GPTCache(small_gpt(), batch_size=3).layers[0].keys.dtype == np.float64


def test_prefill_gives_the_logits_of_every_prompt_position(small_gpt):
    model = small_gpt(seed=1)
    cache = GPTCache(model, batch_size=2)
    logits = cached_forward(model, Tensor(SEQUENCE[:, :7]), cache)
    assert logits.shape == (2, 7, VOCAB) and cache.length == 7
    assert all(layer.length == 7 for layer in cache.layers)
    np.testing.assert_allclose(logits.numpy(), full(model, SEQUENCE[:, :7]), rtol=0, atol=EXACT)


def test_prefill_never_lets_a_position_see_a_later_token(small_gpt):
    model = small_gpt(seed=2)
    changed = SEQUENCE[:, :7].copy()
    changed[:, 4] = (changed[:, 4] + 1) % VOCAB
    before = cached_forward(model, SEQUENCE[:, :7], GPTCache(model, 2)).numpy()
    after = cached_forward(model, changed, GPTCache(model, 2)).numpy()
    np.testing.assert_array_equal(after[:, :4], before[:, :4])      # positions 0..3 cannot see token 4
    assert np.abs(after[:, 4:] - before[:, 4:]).min(axis=-1).max() > 1e-6


def test_each_new_token_matches_a_full_recomputation_at_every_step(small_gpt):
    model = small_gpt(seed=3)
    cache = GPTCache(model, batch_size=2)
    prompt = 3
    cached = [cached_forward(model, SEQUENCE[:, :prompt], cache).numpy()]
    for t in range(prompt, MAX_LEN):                                 # up to the last position
        step = cached_forward(model, SEQUENCE[:, t:t + 1], cache).numpy()
        assert step.shape == (2, 1, VOCAB) and cache.length == t + 1
        np.testing.assert_allclose(step[:, 0], full(model, SEQUENCE[:, :t + 1])[:, -1], rtol=0, atol=EXACT,
                                   err_msg=f"token at position {t}")
        cached.append(step)
    np.testing.assert_allclose(np.concatenate(cached, axis=1), full(model, SEQUENCE), rtol=0, atol=EXACT)


def test_several_new_tokens_at_once_after_a_prefill(small_gpt):
    model = small_gpt(seed=4)
    cache = GPTCache(model, batch_size=2)
    cached_forward(model, SEQUENCE[:, :3], cache)
    chunk = cached_forward(model, SEQUENCE[:, 3:8], cache).numpy()   # 5 queries against 8 keys
    np.testing.assert_allclose(chunk, full(model, SEQUENCE[:, :8])[:, 3:], rtol=0, atol=EXACT)


def test_float32_cached_logits_agree_to_1e_5(small_gpt):
    model = small_gpt(seed=5, float64_weights=False)
    cache = GPTCache(model, batch_size=2)
    cached_forward(model, SEQUENCE[:, :4], cache)
    for t in range(4, MAX_LEN):
        step = cached_forward(model, SEQUENCE[:, t:t + 1], cache).numpy()
        assert step.dtype == np.float32
        np.testing.assert_allclose(step[:, 0], full(model, SEQUENCE[:, :t + 1])[:, -1], rtol=0, atol=1e-5)


def test_rows_of_a_batch_do_not_mix(small_gpt, rng):
    model = small_gpt(seed=6)
    prompts = rng.integers(0, VOCAB, (3, 6))
    together = GPTCache(model, batch_size=3)
    cached_forward(model, prompts[:, :4], together)
    both = cached_forward(model, prompts[:, 4:], together).numpy()
    for row in range(3):
        alone = GPTCache(model, batch_size=1)
        cached_forward(model, prompts[row:row + 1, :4], alone)
        np.testing.assert_allclose(both[row], cached_forward(model, prompts[row:row + 1, 4:], alone).numpy()[0],
                                   rtol=0, atol=EXACT)


def test_reset_lets_the_same_cache_serve_a_new_sequence(small_gpt):
    model = small_gpt(seed=7)
    cache = GPTCache(model, batch_size=2)
    cached_forward(model, SEQUENCE[:, :9], cache)
    cache.reset()
    assert cache.length == 0 and all(layer.length == 0 for layer in cache.layers)
    other = SEQUENCE[::-1, 2:7]
    np.testing.assert_allclose(cached_forward(model, other, cache).numpy(), full(model, other), rtol=0, atol=EXACT)


def test_refused_calls_leave_the_cache_as_it_was(small_gpt):
    model = small_gpt(seed=8)
    cache = GPTCache(model, batch_size=2)
    cached_forward(model, SEQUENCE[:, :MAX_LEN - 1], cache)
    with pytest.raises(ValueError, match=f"max_len={MAX_LEN}"):
        cached_forward(model, SEQUENCE[:, :2], cache)                # positions 11 and 12: no 12
    with pytest.raises(ValueError, match=r"\(3, 1\)"):
        cached_forward(model, np.zeros((3, 1), dtype=np.int64), cache)
    with pytest.raises(ValueError, match=r"\(2,\)"):
        cached_forward(model, np.zeros(2, dtype=np.int64), cache)
    assert cache.length == MAX_LEN - 1 and all(layer.length == MAX_LEN - 1 for layer in cache.layers)
    last = cached_forward(model, SEQUENCE[:, -1:], cache).numpy()
    np.testing.assert_allclose(last[:, 0], full(model, SEQUENCE)[:, -1], rtol=0, atol=EXACT)
