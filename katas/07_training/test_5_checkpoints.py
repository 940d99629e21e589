"""Checkpoints: weights, optimizer state and metadata in an .npz, without pickle, checked on load.

The last part loads files a forger made: the digest is right (anyone can recompute a
SHA-256), the contents are hostile. Each is refused with an error that names the file and
the entry or field, and the model and the optimizer stay exactly as they were.
"""

import json
import tracemalloc
import zipfile

import numpy as np
import pytest

from tinytorch.core import ReLU, Tensor
from tinytorch.nn import CrossEntropyLoss, Linear, Sequential
from tinytorch.optim import SGD, Adam
from tinytorch.training import (
    DIGEST_KEY,
    METADATA_KEY,
    MODEL_PREFIX,
    Trainer,
    checkpoint_digest,
    load_checkpoint,
    save_checkpoint,
)

MEMORY_BOUND_BYTES = 4 << 20  # what refusing a file may allocate, far below what it asks for


@pytest.fixture
def trained(make_blobs, make_batches, make_mlp):
    """A model and its Adam optimizer after two epochs, with the batches that trained them."""
    x, y = make_blobs(64, seed=31)
    train = make_batches(x, y, 16)
    model = make_mlp(seed=32)
    optimizer = Adam(model.parameters(), lr=0.01)
    Trainer(model, CrossEntropyLoss(), optimizer).fit(train, epochs=2)
    return model, optimizer, train


def entries(path) -> dict[str, np.ndarray]:
    with np.load(path, allow_pickle=False) as archive:
        return {name: archive[name] for name in archive.files}


def assert_unchanged(model, snapshot):
    for name, values in snapshot.items():
        np.testing.assert_array_equal(dict(model.named_parameters())[name].data, values,
                                      err_msg=f"{name} changed although loading failed")


# -- saving and loading ---------------------------------------------------------------------

def test_round_trip_restores_the_weights_into_the_same_tensors(tmp_path, trained, make_mlp, take_snapshot):
    model, _, _ = trained
    path = tmp_path / "model.ckpt"
    save_checkpoint(path, model)
    fresh = make_mlp(seed=99)
    tensors = fresh.parameters()

    load_checkpoint(path, fresh)

    expected = take_snapshot(model)
    for name, values in take_snapshot(fresh).items():
        np.testing.assert_array_equal(values, expected[name])
    assert all(a is b for a, b in zip(fresh.parameters(), tensors)), "load into the existing tensors"
    x = Tensor(np.linspace(-3, 3, 10, dtype=np.float32).reshape(5, 2))
    np.testing.assert_array_equal(fresh(x).data, model(x).data)


def test_metadata_comes_back_as_it_was_saved(tmp_path, trained, make_mlp):
    model, optimizer, _ = trained
    path = tmp_path / "run.ckpt"
    meta = {"epoch": 2, "step": 8, "val_accuracy": 0.9375, "note": "blobs", "sizes": [2, 16, 3],
            "mean": np.float32(0.5)}
    save_checkpoint(path, model, optimizer, **meta)
    target = make_mlp(seed=1)
    loaded = load_checkpoint(path, target, Adam(target.parameters()))
    assert loaded == {**meta, "mean": 0.5}
    assert type(loaded["epoch"]) is int and type(loaded["val_accuracy"]) is float


def test_the_file_is_exactly_the_path_given(tmp_path, trained):
    model, _, _ = trained
    path = tmp_path / "weights.ckpt"
    save_checkpoint(path, model)
    assert path.exists(), "np.savez adds '.npz' to a file NAME: give it an open file instead"
    assert not (tmp_path / "weights.ckpt.npz").exists()


def test_the_file_holds_plain_arrays_and_json_never_pickle(tmp_path, trained):
    model, optimizer, _ = trained
    path = tmp_path / "run.ckpt"
    save_checkpoint(path, model, optimizer, epoch=2)

    stored = entries(path)  # allow_pickle=False: any pickled entry would raise here

    assert not any(array.dtype == object for array in stored.values())
    for name, values in model.state_dict().items():
        np.testing.assert_array_equal(stored[MODEL_PREFIX + name], values)
    info = json.loads(str(stored[METADATA_KEY]))
    assert info["meta"] == {"epoch": 2}
    assert info["optimizer"]["type"] == "Adam"
    assert DIGEST_KEY in stored
    state_bytes = sum(a.nbytes for name, a in stored.items() if name.startswith("optimizer/"))
    assert state_bytes == optimizer.state_bytes(), "every array of the optimizer's state is saved"


def test_resuming_from_a_checkpoint_continues_exactly(tmp_path, trained, make_mlp, take_snapshot):
    model, optimizer, train = trained
    path = tmp_path / "resume.ckpt"
    save_checkpoint(path, model, optimizer, epoch=2)
    Trainer(model, CrossEntropyLoss(), optimizer).fit(train, epochs=2)

    # A new process: fresh model, fresh optimizer with another lr. Adam's moments, its
    # step count and the lr must all come from the checkpoint for the runs to agree.
    resumed = make_mlp(seed=77)
    resumed_optimizer = Adam(resumed.parameters(), lr=0.5)
    assert load_checkpoint(path, resumed, resumed_optimizer) == {"epoch": 2}
    assert resumed_optimizer.lr == pytest.approx(0.01)
    Trainer(resumed, CrossEntropyLoss(), resumed_optimizer).fit(train, epochs=2)

    expected = take_snapshot(model)
    for name, values in take_snapshot(resumed).items():
        np.testing.assert_allclose(values, expected[name], rtol=0, atol=1e-7, err_msg=name)


def test_sgd_momentum_buffers_come_back_writable_with_their_dtype(tmp_path, make_mlp):
    model = make_mlp(seed=3)
    optimizer = SGD(model.parameters(), lr=0.1, momentum=0.9)
    for p in model.parameters():
        p.grad = Tensor(np.ones(p.shape, dtype=np.float32))
    optimizer.step()
    path = tmp_path / "sgd.ckpt"
    save_checkpoint(path, model, optimizer)

    other = make_mlp(seed=4)
    other_optimizer = SGD(other.parameters(), lr=0.1, momentum=0.9)
    load_checkpoint(path, other, other_optimizer)

    for saved, loaded in zip(optimizer.state, other_optimizer.state):
        np.testing.assert_array_equal(loaded["velocity"], saved["velocity"])
        assert loaded["velocity"].dtype == np.float32 and loaded["velocity"].flags.writeable
    for p in other.parameters():
        p.grad = Tensor(np.ones(p.shape, dtype=np.float32))
    other_optimizer.step()  # updates the loaded buffers in place: v = 0.9 * 1 + 1
    for state in other_optimizer.state:
        np.testing.assert_allclose(state["velocity"], 1.9, rtol=1e-6)


# -- every failure is a clear error and leaves the model as it was --------------------------

def test_a_truncated_file_is_a_clear_error(tmp_path, trained, make_mlp, take_snapshot):
    model, _, _ = trained
    path = tmp_path / "cut.ckpt"
    save_checkpoint(path, model)
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    target = make_mlp(seed=5)
    before = take_snapshot(target)
    with pytest.raises(ValueError, match="truncated or corrupt"):
        load_checkpoint(path, target)
    assert_unchanged(target, before)


def test_a_damaged_byte_is_a_clear_error(tmp_path, trained, make_mlp, take_snapshot):
    model, _, _ = trained
    path = tmp_path / "damaged.ckpt"
    save_checkpoint(path, model)
    raw = bytearray(path.read_bytes())
    weights = model.parameters()[0].data.tobytes()
    where = raw.find(weights) + len(weights) // 2  # a byte in the middle of the first weight
    raw[where] ^= 0xFF
    path.write_bytes(bytes(raw))
    target = make_mlp(seed=5)
    before = take_snapshot(target)
    with pytest.raises(ValueError, match="truncated or corrupt"):
        load_checkpoint(path, target)
    assert_unchanged(target, before)


def test_a_checkpoint_edited_after_saving_fails_its_checksum(tmp_path, trained, make_mlp, take_snapshot):
    model, _, _ = trained
    path = tmp_path / "edited.ckpt"
    save_checkpoint(path, model)
    stored = entries(path)
    stored[MODEL_PREFIX + "0.weight"] = stored[MODEL_PREFIX + "0.weight"] + np.float32(1.0)
    with open(path, "wb") as file:  # a perfectly valid archive, with different weights
        np.savez(file, **stored)
    target = make_mlp(seed=5)
    before = take_snapshot(target)
    with pytest.raises(ValueError, match="checksum"):
        load_checkpoint(path, target)
    assert_unchanged(target, before)


def test_a_pickled_entry_is_refused(tmp_path, trained, make_mlp, take_snapshot):
    model, _, _ = trained
    path = tmp_path / "pickled.ckpt"
    save_checkpoint(path, model)
    stored = entries(path)
    stored[MODEL_PREFIX + "0.bias"] = np.array([{"runs": "code when unpickled"}], dtype=object)
    with open(path, "wb") as file:
        np.savez(file, **stored)
    target = make_mlp(seed=5)
    before = take_snapshot(target)
    with pytest.raises(ValueError, match="pickle"):
        load_checkpoint(path, target)
    assert_unchanged(target, before)


def test_an_archive_that_is_not_a_checkpoint_is_named_as_such(tmp_path, make_mlp):
    path = tmp_path / "other.npz"
    with open(path, "wb") as file:
        np.savez(file, weights=np.zeros(3))
    with pytest.raises(ValueError, match="not a TinyTorch checkpoint"):
        load_checkpoint(path, make_mlp(seed=5))


def test_a_missing_file_is_file_not_found(tmp_path, make_mlp):
    with pytest.raises(FileNotFoundError):
        load_checkpoint(tmp_path / "nowhere.ckpt", make_mlp(seed=5))


def test_missing_keys_are_named(tmp_path, trained, take_snapshot):
    model, _, _ = trained
    path = tmp_path / "small.ckpt"
    save_checkpoint(path, model)
    bigger = Sequential(Linear(2, 16, rng=0), ReLU(), Linear(16, 3, rng=1), ReLU(), Linear(3, 3, rng=2))
    before = take_snapshot(bigger)
    with pytest.raises(ValueError, match=r"missing.*4\.weight"):
        load_checkpoint(path, bigger)
    assert_unchanged(bigger, before)


def test_a_shape_mismatch_is_named(tmp_path, trained, take_snapshot):
    model, _, _ = trained
    path = tmp_path / "wide.ckpt"
    save_checkpoint(path, model)
    narrow = Sequential(Linear(2, 8, rng=0), ReLU(), Linear(8, 3, rng=1))
    before = take_snapshot(narrow)
    with pytest.raises(ValueError, match=r"shape.*0\.weight|0\.weight.*shape"):
        load_checkpoint(path, narrow)
    assert_unchanged(narrow, before)


def test_asking_for_optimizer_state_that_was_not_saved_changes_nothing(tmp_path, trained, make_mlp,
                                                                      take_snapshot):
    model, _, _ = trained
    path = tmp_path / "weights-only.ckpt"
    save_checkpoint(path, model)
    target = make_mlp(seed=5)
    before = take_snapshot(target)
    with pytest.raises(ValueError, match="no optimizer state"):
        load_checkpoint(path, target, Adam(target.parameters()))
    assert_unchanged(target, before)


def test_state_of_another_optimizer_class_is_refused(tmp_path, trained, make_mlp, take_snapshot):
    model, optimizer, _ = trained
    path = tmp_path / "adam.ckpt"
    save_checkpoint(path, model, optimizer)
    target = make_mlp(seed=5)
    target_optimizer = SGD(target.parameters(), lr=0.1, momentum=0.9)
    before = take_snapshot(target)
    with pytest.raises(ValueError, match=r"Adam.*SGD|SGD.*Adam"):
        load_checkpoint(path, target, target_optimizer)
    assert_unchanged(target, before)
    assert target_optimizer.lr == 0.1 and all(not state for state in target_optimizer.state)


def test_state_for_a_different_number_of_parameters_is_refused(tmp_path, trained, make_mlp, take_snapshot):
    model, optimizer, _ = trained
    path = tmp_path / "all-layers.ckpt"
    save_checkpoint(path, model, optimizer)
    target = make_mlp(seed=5)
    head_only = Adam(target.parameters()[2:])  # fine-tuning the last layer only
    before = take_snapshot(target)
    with pytest.raises(ValueError, match=r"4 parameters.*2|2.*4 parameters"):
        load_checkpoint(path, target, head_only)
    assert_unchanged(target, before)


def test_metadata_that_is_not_json_is_refused_before_the_old_file_is_touched(tmp_path, trained, make_mlp):
    model, _, _ = trained
    path = tmp_path / "keep.ckpt"
    save_checkpoint(path, model, epoch=1)
    with pytest.raises(TypeError, match="JSON"):
        save_checkpoint(path, model, epoch=2, callback=print)
    assert load_checkpoint(path, make_mlp(seed=5)) == {"epoch": 1}


# -- forged checkpoints: a valid digest over hostile contents ---------------------------------

def forge(path, stored, **info_changes):
    """Rewrite ``stored`` to ``path`` with the metadata changed and a digest that matches.

    ``section="value"`` replaces a part of the metadata, ``section__field="value"`` a field
    of one (``optimizer__lr=...``)."""
    stored = {name: value for name, value in stored.items() if name != DIGEST_KEY}
    if info_changes:
        info = json.loads(str(stored[METADATA_KEY]))
        for key, value in info_changes.items():
            section, _, field = key.partition("__")
            if field:
                info[section][field] = value
            else:
                info[section] = value
        stored[METADATA_KEY] = np.array(json.dumps(info))
    stored[DIGEST_KEY] = np.array(checkpoint_digest(stored))
    with open(path, "wb") as file:
        np.savez(file, **stored)


def load_refused(path, make_mlp, take_snapshot, field, with_optimizer=False):
    """Load ``path`` into a fresh model (and a fresh Adam): expect a ValueError naming the
    file and ``field``, and the model and the optimizer as they were. Returns the message."""
    target = make_mlp(seed=5)
    optimizer = Adam(target.parameters(), lr=0.5) if with_optimizer else None
    before = take_snapshot(target)
    with pytest.raises(ValueError) as error:
        load_checkpoint(path, target, optimizer)
    message = str(error.value)
    assert str(path) in message, f"the error should name the file: {message}"
    assert field in message, f"the error should name {field!r}: {message}"
    assert_unchanged(target, before)
    if optimizer is not None:
        assert optimizer.lr == 0.5 and all(not state for state in optimizer.state)
    return message


def saved(tmp_path, trained, with_optimizer=False):
    """A checkpoint of the trained model (with its Adam state) and the entries it holds."""
    model, optimizer, _ = trained
    path = tmp_path / "forged.ckpt"
    save_checkpoint(path, model, optimizer if with_optimizer else None, epoch=2)
    return path, entries(path)


@pytest.mark.parametrize("bad, problem", [
    (np.array([1 + 2j, 0, 0], dtype=np.complex64), "complex64"),
    (np.array(["a", "b", "c"]), "<U1"),
    (np.array([0.0, np.nan, 0.0], dtype=np.float32), "NaN"),
    (np.array([0.0, 1e300, 0.0]), "range"),
], ids=["complex", "text", "nan", "beyond-float32"])
def test_a_forged_weight_is_refused_before_any_weight_changes(tmp_path, trained, make_mlp,
                                                            take_snapshot, bad, problem):
    path, stored = saved(tmp_path, trained)
    # The LAST parameter: a loader that copies while it checks has overwritten the others.
    stored[MODEL_PREFIX + "2.bias"] = bad
    forge(path, stored)
    assert problem in load_refused(path, make_mlp, take_snapshot, "model/2.bias")


@pytest.mark.parametrize("edit, field", [
    (lambda stored: stored.update({METADATA_KEY: np.array('["tinytorch-checkpoint", 1]')}),
     METADATA_KEY),
    (lambda stored: stored.update({"payload": np.zeros(3)}), "payload"),
], ids=["metadata-list", "stray-entry"])
def test_entries_that_are_not_a_checkpoint_are_refused(tmp_path, trained, make_mlp, take_snapshot,
                                                       edit, field):
    path, stored = saved(tmp_path, trained)
    edit(stored)
    forge(path, stored)
    load_refused(path, make_mlp, take_snapshot, field)


@pytest.mark.parametrize("changes, field", [
    ({"meta": [1, 2]}, "meta"),
    ({"optimizer": ["Adam"]}, "optimizer"),
    ({"optimizer__scalars": [{"step": 8}] * 2}, "optimizer.scalars"),
    ({"optimizer__scalars": [{"step": -1}] * 4}, "step"),
    ({"optimizer__scalars": [{"step": float("nan")}] * 4}, "step"),
], ids=["meta-list", "optimizer-list", "too-few-records", "negative-step", "nan-step"])
def test_metadata_that_does_not_fit_is_refused(tmp_path, trained, make_mlp, take_snapshot,
                                               changes, field):
    path, stored = saved(tmp_path, trained, with_optimizer=True)
    forge(path, stored, **changes)
    load_refused(path, make_mlp, take_snapshot, field, with_optimizer=True)


@pytest.mark.parametrize("lr", [float("nan"), float("inf"), -0.01, "0.01", None],
                         ids=["nan", "inf", "negative", "text", "missing"])
def test_a_learning_rate_that_is_not_a_finite_non_negative_number_is_refused(
        tmp_path, trained, make_mlp, take_snapshot, lr):
    path, stored = saved(tmp_path, trained, with_optimizer=True)
    forge(path, stored, optimizer__lr=lr)
    load_refused(path, make_mlp, take_snapshot, "lr", with_optimizer=True)


@pytest.mark.parametrize("edit, field", [
    (lambda stored: stored.update({"optimizer/0/m": np.zeros((3, 3), np.float32)}), "optimizer/0/m"),
    (lambda stored: stored.update({"optimizer/3/v": stored["optimizer/3/v"].astype(np.complex64)}),
     "optimizer/3/v"),
    (lambda stored: stored.update({"optimizer/7/m": np.zeros(3, np.float32)}), "optimizer/7/m"),
    (lambda stored: stored.update({"optimizer/x/m": np.zeros(3, np.float32)}), "optimizer/x/m"),
    (lambda stored: stored.pop("optimizer/2/v"), "optimizer/2"),
], ids=["wrong-shape", "complex", "no-such-parameter", "not-an-index", "missing-slot"])
def test_optimizer_state_that_does_not_fit_is_refused_before_anything_changes(
        tmp_path, trained, make_mlp, take_snapshot, edit, field):
    path, stored = saved(tmp_path, trained, with_optimizer=True)
    edit(stored)
    forge(path, stored)
    load_refused(path, make_mlp, take_snapshot, field, with_optimizer=True)


def test_a_bare_npy_file_is_named_as_such(tmp_path, trained, make_mlp, take_snapshot):
    model, _, _ = trained
    path = tmp_path / "weights.npy"
    np.save(path, model.parameters()[0].data)
    load_refused(path, make_mlp, take_snapshot, ".npy")


def test_a_header_declaring_a_huge_array_is_refused_before_allocating(tmp_path, make_mlp, take_snapshot):
    """A 300-byte file whose header asks for 40 GB: np.load would try to allocate them."""
    path = tmp_path / "huge.ckpt"
    header = {"descr": "<f4", "fortran_order": False, "shape": (100_000, 100_000)}
    with zipfile.ZipFile(path, "w") as archive, archive.open("model/0.weight.npy", "w") as member:
        np.lib.format.write_array_header_1_0(member, header)
        member.write(b"\0" * 64)
    tracemalloc.start()
    try:
        load_refused(path, make_mlp, take_snapshot, "model/0.weight")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < MEMORY_BOUND_BYTES, f"refusing the file allocated {peak:,} bytes"
