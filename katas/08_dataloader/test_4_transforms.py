"""Batch transforms: every sample gets its own random draw, checked against a per-sample loop.

The references below process one image at a time with plain slicing. They replay the
random draws the docstrings specify, from a generator seeded like the transform's.
"""

import numpy as np
import pytest

from tinytorch.core import Tensor
from tinytorch.data import Compose, Normalize, RandomCrop, RandomHorizontalFlip, crop_batch, flip_batch


def batch_of_images(shape=(6, 2, 7, 9), seed=0, dtype=np.float32) -> np.ndarray:
    """Distinct values everywhere, so any misplaced pixel shows. H != W catches swapped axes."""
    rng = np.random.default_rng(seed)
    return rng.permutation(np.prod(shape)).reshape(shape).astype(dtype) + 1


def crop_one_by_one(images, top, left, size):
    return np.stack([image[:, t:t + size, l:l + size] for image, t, l in zip(images, top, left)])


def random_crop_one_by_one(images, size, padding, seed):
    """RandomCrop as a loop: pad each image with zeros, crop at the specified draws."""
    rng = np.random.default_rng(seed)
    n, _, height, width = images.shape
    top = rng.integers(0, height + 2 * padding - size + 1, size=n)
    left = rng.integers(0, width + 2 * padding - size + 1, size=n)
    out = []
    for image, t, l in zip(images, top, left):
        padded = np.pad(image, ((0, 0), (padding, padding), (padding, padding)))
        out.append(padded[:, t:t + size, l:l + size])
    return np.stack(out)


# -- crop_batch and RandomCrop ---------------------------------------------------------------

def test_crop_batch_cuts_each_image_at_its_own_offset():
    images = batch_of_images()
    top, left = np.array([0, 3, 1, 2, 3, 0]), np.array([4, 0, 2, 5, 1, 3])
    out = crop_batch(images, top, left, 4)
    assert out.shape == (6, 2, 4, 4) and out.dtype == np.float32
    np.testing.assert_array_equal(out, crop_one_by_one(images, top, left, 4))


def test_crop_batch_keeps_the_dtype():
    images = batch_of_images(shape=(3, 3, 5, 5), dtype=np.uint8)
    out = crop_batch(images, np.array([0, 1, 2]), np.array([2, 1, 0]), 3)
    assert out.dtype == np.uint8
    np.testing.assert_array_equal(out, crop_one_by_one(images, [0, 1, 2], [2, 1, 0], 3))


def test_crop_batch_refuses_a_window_larger_than_the_images():
    with pytest.raises(ValueError, match=r"8x8 .* 7x9"):
        crop_batch(batch_of_images(), np.zeros(6, dtype=int), np.zeros(6, dtype=int), 8)


@pytest.mark.parametrize("size, padding", [(5, 2), (7, 0), (4, 1), (11, 2)])
def test_random_crop_matches_a_per_sample_loop_with_the_same_draws(size, padding):
    images = batch_of_images()
    out = RandomCrop(size, padding=padding, rng=42)(images)
    assert out.shape == (6, 2, size, size) and out.dtype == images.dtype
    np.testing.assert_array_equal(out, random_crop_one_by_one(images, size, padding, seed=42))


def test_every_sample_gets_its_own_offset():
    image = batch_of_images(shape=(1, 1, 8, 8))
    images = np.repeat(image, 64, axis=0)
    out = RandomCrop(8, padding=2, rng=0)(images)
    distinct = {crop.tobytes() for crop in out}
    assert len(distinct) > 10, (f"64 copies of one image gave only {len(distinct)} different "
                                f"crops: one offset was drawn for the whole batch")


def test_padding_is_zeros():
    images = np.full((3, 2, 4, 4), 7, dtype=np.uint8)
    # The crop is as large as the padded image, so the only offset possible is (0, 0).
    out = RandomCrop(8, padding=2, rng=0)(images)
    np.testing.assert_array_equal(out, np.pad(images, ((0, 0), (0, 0), (2, 2), (2, 2))))


def test_random_crop_of_a_tensor_is_a_tensor():
    images = batch_of_images()
    out = RandomCrop(5, padding=1, rng=3)(Tensor(images))
    assert isinstance(out, Tensor) and out.dtype == np.float32
    np.testing.assert_array_equal(out.numpy(), random_crop_one_by_one(images, 5, 1, seed=3))


def test_random_crop_draws_anew_for_every_batch():
    crop = RandomCrop(6, padding=2, rng=0)
    images = batch_of_images()
    assert not np.array_equal(crop(images), crop(images))


def test_random_crop_errors_name_the_shape_or_the_argument():
    with pytest.raises(ValueError, match=r"\(N, C, H, W\), got shape \(3, 32, 32\)"):
        RandomCrop(32, padding=4, rng=0)(np.zeros((3, 32, 32)))
    with pytest.raises(ValueError, match="padded they are only 10x10"):
        RandomCrop(12, padding=1, rng=0)(np.zeros((2, 3, 8, 8)))
    with pytest.raises(ValueError, match="size=0"):
        RandomCrop(0)
    with pytest.raises(ValueError, match="padding=-1"):
        RandomCrop(4, padding=-1)


# -- flip_batch and RandomHorizontalFlip -----------------------------------------------------

def test_flip_batch_mirrors_the_width_axis_of_the_chosen_images():
    images = batch_of_images()
    flip = np.array([True, False, False, True, True, False])
    out = flip_batch(images, flip)
    assert out.shape == images.shape
    for n in range(6):
        expected = images[n, :, :, ::-1] if flip[n] else images[n]
        np.testing.assert_array_equal(out[n], expected, err_msg=f"image {n}")


def test_flip_batch_returns_a_new_array():
    images = batch_of_images()
    out = flip_batch(images, np.zeros(6, dtype=bool))
    np.testing.assert_array_equal(out, images)
    out[...] = 0
    assert images.min() == 1, "the flipped batch must not share memory with the input"


def test_p_one_flips_every_image_left_right_not_upside_down():
    images = batch_of_images()
    out = RandomHorizontalFlip(p=1.0, rng=0)(images)
    np.testing.assert_array_equal(out, images[..., ::-1])
    assert not np.array_equal(out, images[..., ::-1, :])


def test_p_zero_flips_nothing():
    images = batch_of_images()
    np.testing.assert_array_equal(RandomHorizontalFlip(p=0.0, rng=0)(images), images)


def test_each_image_is_flipped_with_its_own_draw():
    images = batch_of_images(shape=(40, 1, 3, 4))
    out = RandomHorizontalFlip(p=0.5, rng=9)(Tensor(images))
    assert isinstance(out, Tensor)
    flipped = np.random.default_rng(9).random(40) < 0.5
    assert 0 < flipped.sum() < 40
    expected = np.where(flipped[:, None, None, None], images[..., ::-1], images)
    np.testing.assert_array_equal(out.numpy(), expected)


def test_flip_probability_must_be_in_0_1():
    with pytest.raises(ValueError, match="p=1.5"):
        RandomHorizontalFlip(p=1.5)


# -- Normalize and Compose ---------------------------------------------------------------------

def test_normalize_uses_one_mean_and_std_per_channel_on_axis_1():
    # C = W = 3: statistics broadcast along the last axis would run, but be wrong.
    images = batch_of_images(shape=(4, 3, 5, 3), dtype=np.float64)
    mean, std = [10.0, 20.0, 30.0], [2.0, 4.0, 8.0]
    out = Normalize(mean, std)(images)
    expected = np.empty_like(images)
    for c in range(3):
        expected[:, c] = (images[:, c] - mean[c]) / std[c]
    assert out.dtype == np.float64
    np.testing.assert_allclose(out, expected, rtol=1e-12)


def test_normalize_turns_uint8_pixels_into_float32():
    images = batch_of_images(shape=(2, 3, 4, 4), dtype=np.uint8)
    out = Normalize([125.3, 123.0, 113.9], [63.0, 62.1, 66.7])(Tensor(images))
    assert isinstance(out, Tensor) and out.dtype == np.float32
    expected = (images.astype(np.float64) - np.array([125.3, 123.0, 113.9])[:, None, None]) \
        / np.array([63.0, 62.1, 66.7])[:, None, None]
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-5, atol=1e-5)


def test_normalize_checks_the_channel_count_and_its_statistics():
    with pytest.raises(ValueError, match=r"3 channels.*shape \(2, 1, 4, 4\)"):
        Normalize([0.5, 0.5, 0.5], [0.2, 0.2, 0.2])(np.zeros((2, 1, 4, 4), dtype=np.float32))
    with pytest.raises(ValueError, match="positive"):
        Normalize([0.5], [0.0])
    with pytest.raises(ValueError, match="2 means .* 3 stds"):
        Normalize([0.5, 0.5], [1.0, 1.0, 1.0])


def test_transforms_never_change_their_input():
    images = batch_of_images(shape=(5, 3, 6, 6), dtype=np.float32)
    original = images.copy()
    for transform in (RandomCrop(6, padding=1, rng=0), RandomHorizontalFlip(p=1.0, rng=0),
                      Normalize([1.0, 2.0, 3.0], [2.0, 2.0, 2.0])):
        out = transform(images)
        assert not np.shares_memory(out, images), f"{transform!r} returned a view of its input"
        np.testing.assert_array_equal(images, original, err_msg=f"{transform!r} changed its input")


def test_compose_applies_the_transforms_in_order():
    images = batch_of_images(shape=(2, 1, 3, 3), dtype=np.float64)
    pipeline = Compose([Normalize([1.0], [2.0]), lambda x: x * 3.0])
    np.testing.assert_allclose(pipeline(images), (images - 1.0) / 2.0 * 3.0)
    assert len(pipeline.transforms) == 2


def test_compose_of_random_transforms_matches_the_loops():
    images = batch_of_images(shape=(8, 3, 6, 6))
    pipeline = Compose([RandomCrop(6, padding=2, rng=5), RandomHorizontalFlip(p=0.5, rng=6),
                        Normalize([1.0, 2.0, 3.0], [4.0, 5.0, 6.0])])
    out = pipeline(images)
    cropped = random_crop_one_by_one(images, 6, 2, seed=5)
    flipped = np.random.default_rng(6).random(8) < 0.5
    mirrored = np.where(flipped[:, None, None, None], cropped[..., ::-1], cropped)
    mean, std = np.array([1.0, 2.0, 3.0])[:, None, None], np.array([4.0, 5.0, 6.0])[:, None, None]
    expected = (mirrored - mean) / std
    np.testing.assert_allclose(out, expected, rtol=1e-6)


def test_compose_refuses_a_step_that_cannot_be_called():
    with pytest.raises(TypeError, match="transform 1 is not callable"):
        Compose([Normalize([0.0], [1.0]), "flip"])
