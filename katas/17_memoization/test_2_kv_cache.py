"""One layer's KV cache: buffers allocated once, filled position by position, read as views."""

import numpy as np
import pytest

from tinytorch.core import Tensor
from tinytorch.systems.memoization import KVCache

B, H, L, D = 2, 3, 10, 4


def step(rng, length, dtype=np.float32):
    """Random keys and values for ``length`` new positions, different in every row and head."""
    return (Tensor(rng.standard_normal((B, H, length, D)).astype(dtype)),
            Tensor(rng.standard_normal((B, H, length, D)).astype(dtype)))


def test_buffers_are_allocated_once_at_full_size(rng):
    cache = KVCache(B, H, L, D)
    assert cache.keys.shape == cache.values.shape == (B, H, L, D)
    assert cache.keys.dtype == cache.values.dtype == np.float32
    assert cache.length == 0
    assert cache.nbytes == 2 * B * H * L * D * 4 == cache.keys.nbytes + cache.values.nbytes
    assert KVCache(B, H, L, D, dtype=np.float64).nbytes == 2 * B * H * L * D * 8
    keys_before = cache.keys
    cache.update(*step(rng, 3))
    assert cache.keys is keys_before and cache.nbytes == 2 * B * H * L * D * 4


def test_update_returns_every_position_so_far_oldest_first(rng):
    cache = KVCache(B, H, L, D)
    all_k, all_v = [], []
    for new in [3, 1, 1, 2, 1]:                  # a prefill of 3, then steps (one of 2 tokens)
        k, v = step(rng, new)
        all_k.append(k.numpy())
        all_v.append(v.numpy())
        keys, values = cache.update(k, v)
        expected_length = sum(a.shape[2] for a in all_k)
        assert cache.length == expected_length
        assert keys.shape == values.shape == (B, H, expected_length, D)
        np.testing.assert_array_equal(keys.numpy(), np.concatenate(all_k, axis=2))
        np.testing.assert_array_equal(values.numpy(), np.concatenate(all_v, axis=2))


def test_update_returns_views_of_the_buffers_not_copies(rng):
    cache = KVCache(B, H, L, D)
    first_keys, first_values = cache.update(*step(rng, 2))
    later_keys, _ = cache.update(*step(rng, 1))
    assert np.shares_memory(later_keys.numpy(), cache.keys)
    assert np.shares_memory(first_values.numpy(), cache.values)
    # writing position 2 left the view of positions 0..1 as it was
    np.testing.assert_array_equal(first_keys.numpy(), later_keys.numpy()[:, :, :2])


def test_rows_of_the_batch_stay_apart():
    cache = KVCache(3, 1, L, 1)
    for token in range(4):
        row_values = np.array([0.0, 100.0, 200.0]) + token       # row b, position t: 100 b + t
        k = Tensor(row_values.reshape(3, 1, 1, 1).astype(np.float32))
        keys, _ = cache.update(k, k)
    np.testing.assert_array_equal(keys.numpy()[:, 0, :, 0], [[0, 1, 2, 3], [100, 101, 102, 103],
                                                               [200, 201, 202, 203]])


def test_reset_starts_again_from_position_zero(rng):
    cache = KVCache(B, H, L, D)
    cache.update(*step(rng, 4))
    cache.reset()
    assert cache.length == 0 and cache.nbytes == 2 * B * H * L * D * 4
    k, v = step(rng, 2)
    keys, values = cache.update(k, v)
    assert keys.shape == (B, H, 2, D)
    np.testing.assert_array_equal(keys.numpy(), k.numpy())
    np.testing.assert_array_equal(values.numpy(), v.numpy())


def test_a_full_cache_refuses_more_and_keeps_what_it_has(rng):
    cache = KVCache(B, H, L, D)
    k, v = step(rng, L - 1)
    cache.update(k, v)
    with pytest.raises(ValueError, match=r"max_len=10"):
        cache.update(*step(rng, 2))
    assert cache.length == L - 1
    keys, _ = cache.update(*step(rng, 1))   # the last free position still works
    assert cache.length == L
    np.testing.assert_array_equal(keys.numpy()[:, :, :L - 1], k.numpy())
    with pytest.raises(ValueError, match="full"):
        cache.update(*step(rng, 1))


def test_wrong_shapes_and_dtypes_are_refused_before_writing(rng):
    cache = KVCache(B, H, L, D)
    k, v = step(rng, 2)
    with pytest.raises(ValueError, match=r"\(2, 3, 2, 5\)"):
        cache.update(Tensor(np.zeros((B, H, 2, D + 1), np.float32)), Tensor(np.zeros((B, H, 2, D + 1), np.float32)))
    with pytest.raises(ValueError, match=r"\(2, 3, 1, 4\)"):
        cache.update(k, Tensor(v.numpy()[:, :, :1]))
    with pytest.raises(ValueError, match=r"\(1, 3, 2, 4\)"):
        cache.update(Tensor(k.numpy()[:1]), Tensor(v.numpy()[:1]))
    with pytest.raises(TypeError, match="float64"):
        cache.update(*step(rng, 2, dtype=np.float64))
    assert cache.length == 0


# -- a refused update changes nothing: not the length, not one number of either buffer -------

def random_tensor(rng, shape, dtype=np.float32) -> Tensor:
    return Tensor(rng.standard_normal(shape).astype(dtype))


REFUSALS = {
    # name: (positions cached before, k, v, error)
    "one-too-many": (L - 1, (B, H, 2, D), (B, H, 2, D), ValueError),
    "already-full": (L, (B, H, 1, D), (B, H, 1, D), ValueError),
    "more-than-max-len": (0, (B, H, L + 1, D), (B, H, L + 1, D), ValueError),
    "v-longer-than-k": (4, (B, H, 1, D), (B, H, 2, D), ValueError),
    "v-other-heads": (4, (B, H, 1, D), (B, H + 1, 1, D), ValueError),
    "k-other-head-dim": (4, (B, H, 1, D + 1), (B, H, 1, D), ValueError),
    "other-batch": (4, (B + 1, H, 1, D), (B + 1, H, 1, D), ValueError),
    "3-d": (4, (B, H, D), (B, H, D), ValueError),
}


@pytest.mark.parametrize("name", list(REFUSALS))
def test_a_refused_update_writes_nothing(name, rng):
    cached, k_shape, v_shape, error = REFUSALS[name]
    cache = KVCache(B, H, L, D)
    if cached:
        cache.update(*step(rng, cached))
    keys, values = cache.keys.copy(), cache.values.copy()
    with pytest.raises(error):
        cache.update(random_tensor(rng, k_shape), random_tensor(rng, v_shape))
    assert cache.length == cached
    np.testing.assert_array_equal(cache.keys, keys, err_msg="a refused update wrote into the keys")
    np.testing.assert_array_equal(cache.values, values, err_msg="a refused update wrote into the values")


@pytest.mark.parametrize("k_dtype, v_dtype", [(np.float64, np.float32), (np.float32, np.float64),
                                              (np.float16, np.float16)])
def test_a_refused_dtype_writes_nothing(k_dtype, v_dtype, rng):
    cache = KVCache(B, H, L, D)
    cache.update(*step(rng, 3))
    keys, values = cache.keys.copy(), cache.values.copy()
    with pytest.raises(TypeError):
        cache.update(random_tensor(rng, (B, H, 2, D), k_dtype), random_tensor(rng, (B, H, 2, D), v_dtype))
    assert cache.length == 3
    np.testing.assert_array_equal(cache.keys, keys)
    np.testing.assert_array_equal(cache.values, values)


def fill_in_one_prefill(cache, rng):
    """Update with exactly max_len positions: all of them fit, and come back as given."""
    k, v = step(rng, L)
    keys, values = cache.update(k, v)
    assert cache.length == L
    np.testing.assert_array_equal(keys.numpy(), k.numpy())
    np.testing.assert_array_equal(values.numpy(), v.numpy())
    return k, v


def test_a_prefill_of_exactly_max_len_fits_and_the_first_token_stays_first(rng):
    cache = KVCache(B, H, L, D)
    k, v = fill_in_one_prefill(cache, rng)
    with pytest.raises(ValueError):
        cache.update(*step(rng, 1))
    assert cache.length == L
    np.testing.assert_array_equal(cache.keys, k.numpy(), err_msg="the refused token overwrote a position")
    np.testing.assert_array_equal(cache.values, v.numpy())


def test_token_by_token_to_capacity_keeps_the_first_token_through_refusals(rng):
    cache = KVCache(B, H, L, D)
    first_k, first_v = step(rng, 1)
    cache.update(first_k, first_v)
    for _ in range(L - 1):
        with pytest.raises(ValueError):
            cache.update(*step(rng, L))   # refused on the way: nothing moves
        keys, values = cache.update(*step(rng, 1))
    assert cache.length == L
    np.testing.assert_array_equal(keys.numpy()[:, :, :1], first_k.numpy())
    np.testing.assert_array_equal(values.numpy()[:, :, :1], first_v.numpy())


def test_after_reset_the_whole_capacity_is_free_again(rng):
    cache = KVCache(B, H, L, D)
    cache.update(*step(rng, L))
    cache.reset()
    with pytest.raises(ValueError):
        cache.update(*step(rng, L + 1))
    assert cache.length == 0
    fill_in_one_prefill(cache, rng)
