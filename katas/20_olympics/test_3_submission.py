"""Submissions: measure a model under the rules, claim the figures, and have the claims
re-run. Accuracy and bytes are facts about the file and must match exactly; latency is a
fact about the machine and is measured again. The timings here come from a fake clock
(kata 19's injectable timer), so every figure has an exact expected value."""

import json
import re
import shutil

import numpy as np
import pytest

from tinytorch.core import Tensor
from tinytorch.data import load_tinydigits
from tinytorch.systems.olympics import (
    LATENCY_QUERIES,
    RejectedSubmission,
    count_correct,
    load_model,
    measure,
    model_digest,
    read_submission,
    save_model,
    submit,
    verify,
    write_submission,
)

STEP = 2.0 ** -14     # every timed call takes 61 microseconds on the submitter's fake clock
OTHER_STEP = 2.0 ** -12


@pytest.fixture(scope="module")
def held_out():
    digits = load_tinydigits()
    return (digits.x_test[:, None] / 255.0).astype(np.float32), digits.y_test


def expected_correct(arrays_path, held_out, numpy_mlp) -> int:
    """The trained MLP's correct count on the 1,000 test images, from NumPy alone."""
    images, labels = held_out
    with np.load(arrays_path, allow_pickle=False) as archive:
        arrays = {name: archive[name] for name in archive.files}
    return int(np.count_nonzero(numpy_mlp(arrays, images).argmax(axis=1) == labels))


@pytest.fixture
def submitted(tmp_path, saved_mlp, lab_benchmark):
    """The trained MLP's file and its submission, written on the fake clock."""
    model_path = tmp_path / "ada.npz"
    shutil.copy(saved_mlp, model_path)
    write_submission(model_path, "ada", benchmark=lab_benchmark(STEP))
    return tmp_path / "ada.json"


# -- counting and measuring -------------------------------------------------------------------

class ReadsItsAnswer:
    """A fake model: the first pixel of each image holds the class it predicts."""

    def __init__(self) -> None:
        self.batches = []

    def __call__(self, x):
        self.batches.append(len(x.data))
        predictions = x.data[:, 0, 0, 0].astype(int)
        return Tensor(np.eye(10, dtype=np.float32)[predictions])


def test_count_correct_counts_every_batch_including_the_short_last_one():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 10, size=250)
    predictions = np.where(rng.random(250) < 0.7, labels, (labels + 1) % 10)
    images = np.zeros((250, 1, 28, 28), dtype=np.float32)
    images[:, 0, 0, 0] = predictions
    model = ReadsItsAnswer()
    assert count_correct(model, images, labels, batch_size=100) == int(np.sum(predictions == labels))
    assert model.batches == [100, 100, 50]


def test_logits_of_the_wrong_shape_are_refused():
    def five_classes(x):
        return Tensor(np.zeros((len(x.data), 5), dtype=np.float32))

    with pytest.raises(ValueError, match=r"\(100, 5\)") as error:
        count_correct(five_classes, np.zeros((100, 1, 28, 28), np.float32), np.zeros(100, np.int64))
    assert "(100, 10)" in str(error.value), "the message names the shape expected too"


def test_measure_follows_the_rules(saved_mlp, lab_benchmark, held_out, numpy_mlp, metrics):
    measured = measure(saved_mlp, lab_benchmark(STEP))
    correct = expected_correct(saved_mlp, held_out, numpy_mlp)
    assert (measured.correct, measured.test_images) == (correct, 1000)
    assert measured.accuracy == correct / 1000 > 0.9, "the trained MLP qualifies"
    assert measured.model_bytes == saved_mlp.stat().st_size
    assert measured.model_sha256 == model_digest(saved_mlp)
    assert measured.latency.scenario == "single_stream"
    assert measured.latency.timings == (STEP,) * LATENCY_QUERIES, "one query per image, 200 images"
    assert measured.offline.scenario == "offline" and measured.offline.batch_size == 100
    assert measured.offline.throughput == 1000 / STEP, "1,000 images per (fake) pass"
    metrics.record("trained MLP test accuracy", 100 * measured.accuracy, "%")


# -- writing and reading a submission -------------------------------------------------------

def test_a_submission_claims_what_was_measured(submitted, saved_mlp, held_out, numpy_mlp):
    data = json.loads(submitted.read_text())
    assert data["schema"] == "tinytorch-olympics-submission" and data["version"] == 1
    assert data["rules_version"] == 1 and data["name"] == "ada"
    assert data["model_file"] == "ada.npz", "the bare file name: the model travels with the JSON"
    assert data["model_sha256"] == model_digest(saved_mlp)
    assert data["claims"] == {"accuracy": expected_correct(saved_mlp, held_out, numpy_mlp) / 1000,
                              "model_bytes": saved_mlp.stat().st_size,
                              "latency_seconds": STEP, "throughput": 1000 / STEP}
    assert data["environment"]["cpu_model"] == "the test's fake lab"

    submission = read_submission(submitted)
    assert submission.name == "ada" and submission.model_path == submitted.parent / "ada.npz"
    assert submission.claims.latency_seconds == STEP


def test_submit_saves_the_model_and_its_submission_side_by_side(tmp_path, trained_mlp, lab_benchmark):
    submission = submit(trained_mlp, "grace", tmp_path / "out", benchmark=lab_benchmark(STEP))
    assert submission.path == tmp_path / "out" / "grace.json" and submission.path.exists()
    assert submission.model_path == tmp_path / "out" / "grace.npz"
    assert isinstance(load_model(submission.model_path)[1], type(trained_mlp[1]))


def test_a_submission_must_sit_next_to_its_model(tmp_path, saved_mlp, lab_benchmark):
    (tmp_path / "elsewhere").mkdir()
    with pytest.raises(ValueError, match="folder"):
        write_submission(saved_mlp, "ada", tmp_path / "elsewhere" / "ada.json", benchmark=lab_benchmark())


# -- verification -------------------------------------------------------------------------

def test_verification_recomputes_accuracy_and_bytes_and_measures_latency_again(submitted, lab_benchmark):
    entry = verify(submitted, lab_benchmark(OTHER_STEP))
    claims = read_submission(submitted).claims
    assert entry.name == "ada"
    assert entry.accuracy == claims.accuracy and entry.model_bytes == claims.model_bytes
    assert entry.latency_seconds == OTHER_STEP, "latency is measured again on this machine"
    assert entry.claimed_latency_seconds == STEP, "and the claim is kept on record"
    assert entry.latency_p99_seconds == OTHER_STEP and entry.latency_ci_low == OTHER_STEP
    assert entry.throughput == 1000 / OTHER_STEP


def edit_claims(path, **changes):
    data = json.loads(path.read_text())
    for key, value in changes.items():
        if key in data["claims"]:
            data["claims"][key] = value
        else:
            data[key] = value
    path.write_text(json.dumps(data))


@pytest.mark.parametrize("field, change", [
    ("accuracy", lambda claims: {"accuracy": round(claims.accuracy + 0.001, 3)}),
    ("accuracy", lambda claims: {"accuracy": round(claims.accuracy - 0.001, 3)}),  # modesty is wrong too
    ("model_bytes", lambda claims: {"model_bytes": claims.model_bytes - 1}),
    ("model_sha256", lambda claims: {"model_sha256": "0" * 64}),
    ("model_file", lambda claims: {"model_file": "missing.npz"}),
])
def test_a_claim_that_does_not_hold_is_rejected_by_name(submitted, lab_benchmark, field, change):
    edit_claims(submitted, **change(read_submission(submitted).claims))
    with pytest.raises(RejectedSubmission, match=field) as rejection:
        verify(submitted, lab_benchmark())
    assert rejection.value.field == field
    assert str(submitted) in str(rejection.value)


def test_a_swapped_model_is_caught_even_with_its_size_claimed(submitted, lab_benchmark):
    # Another model in the submitted file, and the bytes claim updated to its size: the
    # digest of the contents still tells the two apart.
    other = load_model(submitted.parent / "ada.npz")
    other[3].bias.data[:] += 0.01
    size = save_model(submitted.parent / "ada.npz", other)
    edit_claims(submitted, model_bytes=size)
    with pytest.raises(RejectedSubmission, match="model_sha256"):
        verify(submitted, lab_benchmark())


def test_a_swapped_model_with_its_digest_claimed_fails_on_accuracy(submitted, lab_benchmark, held_out,
                                                                      numpy_mlp):
    # Everything about the file claimed correctly, but the accuracy is the old model's.
    swapped = submitted.parent / "ada.npz"
    other = load_model(swapped)
    other[3].bias.data[:] = np.arange(10, dtype=np.float32)   # now it mostly answers 9
    size = save_model(swapped, other)
    edit_claims(submitted, model_bytes=size, model_sha256=model_digest(swapped))
    with pytest.raises(RejectedSubmission, match="accuracy") as rejection:
        verify(submitted, lab_benchmark())
    assert rejection.value.field == "accuracy"
    correct = expected_correct(swapped, held_out, numpy_mlp)
    assert re.search(rf"\b{correct}\b", str(rejection.value)), f"the message gives the count measured, {correct}"


# -- malformed submissions ------------------------------------------------------------------

@pytest.mark.parametrize("edit, problem", [
    (lambda data: "{not json", "not valid JSON"),
    (lambda data: [data], "JSON list, not an object"),
    (lambda data: {**data, "schema": "kaggle"}, "schema 'kaggle'"),
    (lambda data: {**data, "version": 2}, "version 2"),
    (lambda data: {**data, "rules_version": 0}, "rules version 0"),
    (lambda data: {k: v for k, v in data.items() if k != "name"}, "missing field 'name'"),
    (lambda data: {**data, "name": ""}, "name"),
    (lambda data: {**data, "name": "ada\nbob"}, "name"),
    (lambda data: {**data, "model_file": "../../etc/passwd"}, "model_file"),
    (lambda data: {**data, "model_sha256": "xyz"}, "model_sha256"),
    (lambda data: {**data, "claims": {**data["claims"], "accuracy": "0.93"}}, "'accuracy' must be"),
    (lambda data: {**data, "claims": {**data["claims"], "accuracy": 1.5}}, "accuracy=1.5"),
    (lambda data: {**data, "claims": {**data["claims"], "model_bytes": 0}}, "model_bytes=0"),
    (lambda data: {**data, "claims": {**data["claims"], "model_bytes": True}}, "'model_bytes' must be int"),
    (lambda data: {**data, "claims": {**data["claims"], "latency_seconds": -1.0}}, "latency_seconds=-1.0"),
    (lambda data: {**data, "claims": {**data["claims"], "throughput": float("nan")}}, "throughput=nan"),
    (lambda data: {k: v for k, v in data.items() if k != "environment"}, "missing field 'environment'"),
])
def test_a_malformed_submission_says_what_is_wrong(submitted, edit, problem):
    edited = edit(json.loads(submitted.read_text()))
    submitted.write_text(edited if isinstance(edited, str) else json.dumps(edited))
    with pytest.raises(ValueError, match=problem) as error:
        read_submission(submitted)
    assert str(submitted) in str(error.value)
