"""Systems view: compressing a real MLP trained on TinyDigits, and what each method costs.

A 784-128-10 MLP is trained once per module (five epochs, well under a second). Every
figure below is measured on its 1,000 test images: accuracies, the real bytes of the
stored formats, parameter counts and multiply-adds, and forward times taken in alternation
(shown, never asserted: a busy machine moves them).
"""

import numpy as np
import pytest

from pytest_tinytorch.measure import time_ratio
from tinytorch.core import ReLU, Tensor, no_grad
from tinytorch.nn import CrossEntropyLoss, Linear, Sequential
from tinytorch.optim import Adam
from tinytorch.systems.compression import (
    MaskedTrainer,
    apply_masks,
    compress_state_dict,
    decompress_state_dict,
    distill,
    global_magnitude_masks,
    global_magnitude_prune,
    low_rank_errors,
    low_rank_factorize,
    prune_units,
    stored_nbytes,
    to_sparse,
    weight_sparsity,
)
from tinytorch.training import Trainer, accuracy

SPARSITY = 0.9
FINE_TUNE_EPOCHS = 2


def batches(x, y, size, seed):
    order = np.random.default_rng(seed).permutation(len(x))
    return [(Tensor(x[order[i:i + size]]), Tensor(y[order[i:i + size]])) for i in range(0, len(x), size)]


def mlp(hidden=128, seed=0) -> Sequential:
    return Sequential(Linear(784, hidden, rng=seed), ReLU(), Linear(hidden, 10, rng=seed + 1))


def copy_of(model: Sequential) -> Sequential:
    clone = mlp()
    clone.load_state_dict(model.state_dict())
    return clone


def accuracy_of(model, digits) -> float:
    _, _, x_test, y_test = digits
    model.eval()
    with no_grad():
        return accuracy(model(Tensor(x_test)), Tensor(y_test))


def parameters(*modules) -> int:
    return sum(p.size for module in modules for p in module.parameters())


@pytest.fixture(scope="module")
def train_batches(digits):
    x_train, y_train, _, _ = digits
    return batches(x_train, y_train, 64, seed=0)


@pytest.fixture(scope="module")
def trained(train_batches):
    model = mlp()
    Trainer(model, CrossEntropyLoss(), Adam(model.parameters(), lr=2e-3)).fit(train_batches, epochs=5)
    return model


@pytest.fixture(scope="module")
def pruned(trained, train_batches, digits):
    """The trained model pruned to 90 % with one global threshold, then fine-tuned with its masks."""
    model = copy_of(trained)
    masks = global_magnitude_prune(model, SPARSITY)
    after_pruning = accuracy_of(model, digits)
    MaskedTrainer(model, CrossEntropyLoss(), Adam(model.parameters(), lr=5e-4), masks).fit(
        train_batches, epochs=FINE_TUNE_EPOCHS)
    return model, masks, after_pruning


def test_90_percent_global_sparsity_costs_at_most_2_points_after_fine_tuning(trained, pruned, train_batches,
                                                                            digits, metrics):
    model, masks, after_pruning = pruned
    dense = accuracy_of(trained, digits)
    fine_tuned = accuracy_of(model, digits)
    # exact, to the weight: 0.9 * 101,632 is 91,468.8, and round() prunes 91,469
    weights = 784 * 128 + 128 * 10
    pruned = round(SPARSITY * weights)
    assert sum(int((~keep).sum()) for keep in masks.values()) == pruned, "prune round(sparsity * n) weights"
    for index in (0, 2):
        np.testing.assert_array_equal(model[index].weight.data == 0, ~masks[f"{index}.weight"],
                                      err_msg="fine-tuning must keep the masks: zero exactly where pruned")
    assert weight_sparsity(model) == pytest.approx(pruned / weights, abs=0.1 / weights)
    assert fine_tuned >= dense - 0.02, f"dense {dense:.3f}, pruned and fine-tuned {fine_tuned:.3f}"

    # The same extra epochs for the dense model: the fair baseline for the fine-tuned figure.
    dense_more = copy_of(trained)
    Trainer(dense_more, CrossEntropyLoss(), Adam(dense_more.parameters(), lr=5e-4)).fit(
        train_batches, epochs=FINE_TUNE_EPOCHS)
    # 90 % of each layer on its own: global_magnitude_masks of one layer is a per-layer rule.
    per_layer = copy_of(trained)
    for index in (0, 2):
        layer_masks = global_magnitude_masks(per_layer[index], SPARSITY)
        apply_masks(per_layer, {f"{index}.{name}": keep for name, keep in layer_masks.items()})

    dense_more_accuracy = accuracy_of(dense_more, digits)
    assert fine_tuned >= dense_more_accuracy - 0.02, f"dense trained as long: {dense_more_accuracy:.3f}"

    metrics.record("test accuracy, dense MLP 784-128-10", 100 * dense, "%")
    metrics.record("test accuracy, 90 % pruned per layer, no fine-tuning", 100 * accuracy_of(per_layer, digits), "%")
    metrics.record("test accuracy, 90 % pruned globally, no fine-tuning", 100 * after_pruning, "%")
    metrics.record(f"test accuracy, 90 % global + {FINE_TUNE_EPOCHS} epochs masked fine-tuning",
                   100 * fine_tuned, "%")
    metrics.record(f"test accuracy, dense + the same {FINE_TUNE_EPOCHS} epochs", 100 * dense_more_accuracy, "%")
    metrics.record("sparsity of the 784x128 layer (global threshold)", 100 * (1 - masks["0.weight"].mean()), "%")
    metrics.record("sparsity of the 128x10 layer (global threshold)", 100 * (1 - masks["2.weight"].mean()), "%")


def test_pruning_and_quantization_store_the_model_in_a_tenth_of_the_bytes(trained, pruned, digits, metrics):
    model, _, _ = pruned
    state = model.state_dict()
    dense_bytes = sum(array.nbytes for array in state.values())
    sparse = compress_state_dict(state)
    both = compress_state_dict(state, quantize=True)
    ratio_sparse = dense_bytes / stored_nbytes(sparse)
    ratio_both = dense_bytes / stored_nbytes(both)
    assert 6 < ratio_sparse < 9, f"bitmask + float32 values at 90 %: {ratio_sparse:.2f} x"
    assert ratio_both >= 10, f"pruning + int8 stored only {ratio_both:.2f} x fewer bytes"

    reloaded = mlp()
    reloaded.load_state_dict(decompress_state_dict(both))
    fine_tuned, quantized = accuracy_of(model, digits), accuracy_of(reloaded, digits)
    assert weight_sparsity(reloaded) == pytest.approx(SPARSITY, abs=1e-5)
    assert quantized >= fine_tuned - 0.01, f"int8 values cost {100 * (fine_tuned - quantized):.1f} points"

    # Zeros in a dense array are still multiplied: unstructured sparsity saves bytes, not time.
    x = Tensor(digits[2])
    with no_grad():
        slowdown = time_ratio(lambda: model(x), lambda: trained(x))

    metrics.record("stored bytes, dense float32", dense_bytes, "bytes")
    metrics.record("stored bytes, 90 % sparse: bitmask + float32 values", stored_nbytes(sparse), "bytes")
    metrics.record("stored bytes, 90 % sparse: bitmask + int8 values", stored_nbytes(both), "bytes")
    metrics.record("dense / sparse float32 bytes", ratio_sparse, "ratio")
    metrics.record("dense / sparse int8 bytes (pruning + quantization)", ratio_both, "ratio")
    metrics.record("test accuracy, pruned + int8, reloaded from the stored bytes", 100 * quantized, "%")
    metrics.record("forward time, 90 % zeros in dense arrays / dense (interleaved)", slowdown, "ratio")


def test_the_crossover_of_bitmask_storage(metrics):
    """The bitmask costs 1 bit per element whatever the sparsity: at 99 % it dominates."""
    dense = np.random.default_rng(0).standard_normal((784, 128)).astype(np.float32)
    for sparsity in (0.5, 0.9, 0.99):
        pruned = dense * (np.abs(dense) > np.quantile(np.abs(dense), sparsity))
        stored = to_sparse(pruned)
        share = stored.bitmask.nbytes / stored.nbytes
        assert stored.nbytes < dense.nbytes
        metrics.record(f"bitmask share of the stored bytes at {sparsity:.0%} sparsity", 100 * share, "%")


def test_structured_pruning_makes_a_smaller_faster_dense_model(trained, train_batches, digits, metrics):
    small, small_next, _ = prune_units(trained[0], trained[2], keep=32)
    model = Sequential(small, ReLU(), small_next)
    before = accuracy_of(model, digits)
    Trainer(model, CrossEntropyLoss(), Adam(model.parameters(), lr=1e-3)).fit(train_batches, epochs=FINE_TUNE_EPOCHS)
    after = accuracy_of(model, digits)
    dense = accuracy_of(trained, digits)
    assert parameters(model) == 784 * 32 + 32 + 32 * 10 + 10
    assert after >= dense - 0.05, f"dense {dense:.3f}, 32 of 128 neurons kept and fine-tuned {after:.3f}"

    # What makes it faster, counted: every weight is one multiply-add per sample, and the
    # smaller layers are dense arrays that a matrix product runs in full.
    macs = {name: sum(layer.weight.size for layer in m if isinstance(layer, Linear))
            for name, m in (("dense", trained), ("small", model))}
    assert 4 * macs["small"] == macs["dense"] == 784 * 128 + 128 * 10, macs
    x = Tensor(digits[2])
    with no_grad():
        speedup = time_ratio(lambda: trained(x), lambda: model(x))

    metrics.record("parameters, dense MLP", parameters(trained), "parameters")
    metrics.record("parameters, 32 of 128 hidden neurons kept", parameters(model), "parameters")
    metrics.record("multiply-adds per image, dense / 32 neurons kept", macs["dense"] / macs["small"], "ratio")
    metrics.record("test accuracy, 32 neurons kept, before fine-tuning", 100 * before, "%")
    metrics.record(f"test accuracy, 32 neurons kept, after {FINE_TUNE_EPOCHS} epochs", 100 * after, "%")
    metrics.record("forward time, dense / 32 neurons kept (interleaved)", speedup, "ratio")


def test_low_rank_error_and_accuracy_by_rank(trained, digits, metrics):
    errors = low_rank_errors(trained[0].weight.numpy())
    dense = accuracy_of(trained, digits)
    assert np.all(np.diff(errors) <= 1e-12), "keeping more singular values never increases the error"
    for rank in (8, 16, 32, 64):
        factored = low_rank_factorize(trained[0], rank)
        model = Sequential(factored, ReLU(), trained[2])
        acc = accuracy_of(model, digits)
        if rank >= 32:
            assert acc >= dense - 0.03, f"rank {rank}: {acc:.3f} against dense {dense:.3f}"
        metrics.record(f"relative weight error at rank {rank} (784x128 layer)", 100 * errors[rank], "%")
        metrics.record(f"test accuracy at rank {rank}, no fine-tuning", 100 * acc, "%")
        metrics.record(f"parameters of the 784x128 layer at rank {rank}", parameters(factored), "parameters")


def test_a_distilled_student_beats_one_trained_on_the_labels_alone(trained, digits, metrics):
    """The student (784-32-10, a quarter of the teacher) sees only 300 labelled images."""
    x_train, y_train, _, _ = digits
    few = batches(x_train[:300], y_train[:300], 50, seed=1)
    accuracies = {}
    for alpha in (0.0, 0.9):
        student = mlp(hidden=32, seed=5)
        distill(student, trained, few, Adam(student.parameters(), lr=2e-3), epochs=30, temperature=4.0, alpha=alpha)
        accuracies[alpha] = accuracy_of(student, digits)
    assert accuracies[0.9] >= accuracies[0.0] + 0.01, accuracies

    metrics.record("parameters, teacher / student", parameters(trained) / parameters(student), "ratio")
    metrics.record("test accuracy, teacher (5,000 images)", 100 * accuracy_of(trained, digits), "%")
    metrics.record("test accuracy, student on 300 labels alone", 100 * accuracies[0.0], "%")
    metrics.record("test accuracy, student distilled at T = 4 on the same 300", 100 * accuracies[0.9], "%")
