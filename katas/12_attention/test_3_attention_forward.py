"""scaled_dot_product_attention: softmax(Q K^T / sqrt(d)) V, with masks."""

import numpy as np
import pytest

from tinytorch.core import Tensor
from tinytorch.nn import causal_mask, padding_mask, scaled_dot_product_attention


def qkv(rng, lead=(2,), t=4, s=6, d=16, dv=3, dtype=np.float32):
    """Random queries, keys and values; d = 16 so that a missing 1/sqrt(d) changes everything."""
    return tuple((rng.standard_normal(lead + shape) * 0.7).astype(dtype)
                 for shape in ((t, d), (s, d), (s, dv)))


def attend(q, k, v, mask=None):
    return scaled_dot_product_attention(Tensor(q), Tensor(k), Tensor(v), mask=mask).numpy()


@pytest.mark.parametrize("lead", [(), (2,), (2, 3)], ids=["single", "batch", "batch x heads"])
def test_matches_the_formula(numpy_attention, lead, rng):
    q, k, v = qkv(rng, lead)
    out = attend(q, k, v)
    assert out.shape == lead + (4, 3)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, numpy_attention(q, k, v), rtol=1e-4, atol=1e-6)


def test_scores_are_scaled_by_one_over_sqrt_d(numpy_attention):
    """Two keys whose scores differ by 8 before scaling: by 2 after it (d = 16)."""
    q = np.zeros((1, 16), dtype=np.float32)
    q[0, 0] = 1.0
    k = np.zeros((2, 16), dtype=np.float32)
    k[0, 0] = 8.0
    v = np.array([[1.0], [0.0]], dtype=np.float32)
    expected = 1 / (1 + np.exp(-2.0))   # softmax([2, 0])[0]
    assert attend(q, k, v)[0, 0] == pytest.approx(expected, rel=1e-5)


def test_a_causal_mask_hides_the_future(numpy_attention, rng):
    q, k, v = qkv(rng, t=5, s=5)
    out = attend(q, k, v, causal_mask(5))
    np.testing.assert_allclose(out, numpy_attention(q, k, v, causal_mask(5)), rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(out[:, 0], v[:, 0], rtol=1e-6)   # the first token sees only itself


def test_changing_a_future_token_does_not_change_earlier_outputs(rng):
    q, k, v = qkv(rng, t=6, s=6)
    before = attend(q, k, v, causal_mask(6))
    k2, v2 = k.copy(), v.copy()
    k2[:, 4:] += 5.0
    v2[:, 4:] -= 3.0
    after = attend(q, k2, v2, causal_mask(6))
    np.testing.assert_array_equal(after[:, :4], before[:, :4])
    assert not np.allclose(after[:, 4], before[:, 4])   # ... but position 4 does see itself


def test_padded_keys_are_ignored(numpy_attention, rng):
    q, k, v = qkv(rng, lead=(3,), t=4, s=6)
    lengths = [6, 2, 4]
    mask = padding_mask(lengths, 6)
    out = attend(q, k, v, mask)
    np.testing.assert_allclose(out, numpy_attention(q, k, v, mask), rtol=1e-4, atol=1e-6)
    for b, n in enumerate(lengths):     # the same as attention over the real keys only
        np.testing.assert_allclose(out[b], attend(q[b], k[b, :n], v[b, :n]), rtol=1e-5, atol=1e-6)
    v_noisy = v.copy()
    v_noisy[1, 2:] = 1e6
    np.testing.assert_allclose(attend(q, k, v_noisy, mask), out, rtol=1e-6)


def test_causal_and_padding_masks_combine(numpy_attention, rng):
    q, k, v = qkv(rng, lead=(2,), t=5, s=5)
    mask = causal_mask(5) & padding_mask([3, 5], 5)
    np.testing.assert_allclose(attend(q, k, v, mask), numpy_attention(q, k, v, mask), rtol=1e-4, atol=1e-6)


def test_a_query_with_no_key_left_outputs_zeros(rng):
    q, k, v = qkv(rng, lead=(2,), t=3, s=4)
    out = attend(q, k, v, padding_mask([0, 4], 4))
    assert np.all(np.isfinite(out))
    np.testing.assert_array_equal(out[0], 0.0)


def test_a_mask_tensor_works_like_an_array(rng):
    q, k, v = qkv(rng, t=4, s=4)
    np.testing.assert_array_equal(attend(q, k, v, Tensor(causal_mask(4))), attend(q, k, v, causal_mask(4)))


def test_shape_mismatches_are_value_errors_naming_the_shapes(rng):
    q, k, v = qkv(rng, t=4, s=6, d=16)
    with pytest.raises(ValueError, match=r"\(2, 6, 8\)"):
        attend(q, k[..., :8], v)                      # d differs between q and k
    with pytest.raises(ValueError, match=r"\(2, 5, 3\)"):
        attend(q, k, v[:, :5])                        # k and v differ in length
    with pytest.raises(ValueError, match=r"\(3, 3\)"):
        attend(q, k, v, np.ones((3, 3), dtype=bool))  # the mask does not fit (4, 6)


def test_a_float_mask_is_a_type_error(rng):
    q, k, v = qkv(rng, t=4, s=4)
    additive = np.where(causal_mask(4), 0.0, -np.inf)
    with pytest.raises(TypeError, match="float64"):
        attend(q, k, v, additive)
