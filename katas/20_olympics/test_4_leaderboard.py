"""The leaderboard: one file that keeps every distinct submission, merges classmates' files,
refuses to mix machines, and ranks each event with the entrants' best entries.

The entries are made by hand (the ``make_entry`` fixture), so every rank is known exactly.
"""

import json

import pytest

from tinytorch.systems.olympics import Leaderboard


def names(ranking):
    return [(rank, entry.name) for rank, entry in ranking]


@pytest.fixture
def field(make_entry):
    """Four entrants, each first in at least one event, and one below the qualifying accuracy."""
    return [
        make_entry("ada", accuracy=0.98, latency=4e-5, model_bytes=200_000, throughput=4e5),   # score 2.97
        make_entry("bob", accuracy=0.95, latency=2e-5, model_bytes=100_000, throughput=9e5),   # 2.32
        make_entry("cy", accuracy=0.93, latency=5e-5, model_bytes=25_000, throughput=2e5),     # 2.03
        make_entry("dee", accuracy=0.96, latency=1e-4, model_bytes=50_000, throughput=1e6),    # 1.64
        make_entry("eve", accuracy=0.50, latency=1e-6, model_bytes=500, throughput=5e7),       # guesses
    ]


@pytest.fixture
def board_of(lab):
    """``board_of(entries)``: a leaderboard of the fake lab holding ``entries``."""
    def make(entries, environment=None):
        board = Leaderboard(environment=dict(lab if environment is None else environment))
        for entry in entries:
            board.add(entry)
        return board

    return make


@pytest.mark.parametrize("event, expected", [
    ("combined", [(1, "ada"), (2, "bob"), (3, "cy"), (4, "dee"), (None, "eve")]),
    ("accuracy", [(1, "ada"), (2, "dee"), (3, "bob"), (4, "cy"), (5, "eve")]),
    ("latency", [(1, "bob"), (2, "ada"), (3, "cy"), (4, "dee"), (None, "eve")]),
    ("throughput", [(1, "dee"), (2, "bob"), (3, "ada"), (4, "cy"), (None, "eve")]),
    ("bytes", [(1, "cy"), (2, "dee"), (3, "bob"), (4, "ada"), (None, "eve")]),
])
def test_each_event_has_its_own_order(field, event, expected, board_of):
    assert names(board_of(field).ranking(event)) == expected


def test_an_entry_below_the_qualifying_accuracy_is_listed_but_not_ranked(field, make_entry, board_of):
    board = board_of(field + [make_entry("fay", accuracy=0.70, latency=1e-6, model_bytes=100)])
    # Unranked entries come last, the more accurate first, however small or fast they are.
    assert names(board.ranking("bytes"))[-2:] == [(None, "fay"), (None, "eve")]
    assert board.ranking("accuracy")[-2][0] == 5, "the accuracy event ranks everyone"


def test_equal_values_share_a_rank_and_the_next_rank_skips(make_entry, board_of):
    board = board_of([make_entry("a", accuracy=0.95), make_entry("b", accuracy=0.93),
                      make_entry("c", accuracy=0.93), make_entry("d", accuracy=0.91)])
    assert names(board.ranking("accuracy")) == [(1, "a"), (2, "b"), (2, "c"), (4, "d")]


def test_each_event_ranks_every_entrants_best_entry(make_entry, board_of):
    fast = make_entry("ada", accuracy=0.92, latency=1e-5, model_bytes=100_000, model="a")      # 1.97
    accurate = make_entry("ada", accuracy=0.99, latency=2e-4, model_bytes=100_000, model="b")  # 3.64
    small = make_entry("ada", accuracy=0.93, latency=1e-4, model_bytes=10_000, model="c")      # 2.35
    board = board_of([fast, accurate, small, make_entry("bob", accuracy=0.97, latency=5e-5, model="d")])

    assert len(board.entries) == 3 + 1, "all of ada's models are kept"
    ranked = {event: {entry.name: entry for _, entry in board.ranking(event)} for event in
              ("combined", "accuracy", "latency", "bytes")}
    assert ranked["latency"]["ada"] is fast
    assert ranked["accuracy"]["ada"] is accurate
    assert ranked["bytes"]["ada"] is small
    assert ranked["combined"]["ada"] is accurate, "the highest combined score"
    assert len(board.ranking("combined")) == 2, "one line per entrant"


def test_a_duplicate_submission_keeps_the_first_measurement(make_entry, lab):
    board = Leaderboard(environment=dict(lab))
    first = make_entry("ada", latency=5e-5, model="a")
    assert board.add(first) is True
    lucky = make_entry("ada", latency=3e-5, model="a")   # the same model, measured again
    assert board.add(lucky) is False
    assert board.entries == [first]
    assert board.add(make_entry("bob", latency=3e-5, model="a")) is True, (
        "the same model from another entrant is another entry")


def test_merging_two_files_with_duplicates(tmp_path, make_entry, board_of):
    mine = board_of([make_entry("ada", latency=5e-5, model="a"), make_entry("bob", model="b")])
    theirs = board_of([make_entry("bob", latency=1e-6, model="b"),        # duplicate of bob's model
                       make_entry("cy", model="c"),
                       make_entry("ada", accuracy=0.97, model="d")])      # ada's second model
    mine.save(tmp_path / "mine.json")
    theirs.save(tmp_path / "theirs.json")

    merged = Leaderboard.load(tmp_path / "mine.json")
    assert merged.merge(Leaderboard.load(tmp_path / "theirs.json")) == 2
    assert [(entry.name, entry.model_sha256[0]) for entry in merged.entries] == [
        ("ada", "a"), ("bob", "b"), ("cy", "c"), ("ada", "d")]
    assert merged.entries[1].latency_seconds == 1e-4, "bob's first measurement stands"
    assert names(merged.ranking("accuracy")) == [(1, "ada"), (2, "bob"), (2, "cy")]


def test_merging_leaderboards_from_two_machines_is_refused(make_entry, board_of, lab):
    mine = board_of([make_entry("ada")])
    theirs = board_of([make_entry("bob")], environment={**lab, "cpu_model": "a faster laptop"})
    with pytest.raises(ValueError, match="different machines.*cpu_model.*a faster laptop"):
        mine.merge(theirs)
    assert [entry.name for entry in mine.entries] == ["ada"], "nothing changed"


def test_a_leaderboard_survives_its_file(tmp_path, field, board_of):
    board = board_of(field)
    board.save(tmp_path / "board.json")
    data = json.loads((tmp_path / "board.json").read_text())
    assert data["schema"] == "tinytorch-olympics-leaderboard" and data["rules_version"] == 1
    again = Leaderboard.load(tmp_path / "board.json")
    assert again == board


def test_the_table_lists_the_ranking(field, board_of):
    lines = board_of(field).table("combined").splitlines()
    rows = [line for line in lines if line.split()[:2] and line.split()[1] in {"ada", "bob", "cy", "dee", "eve"}]
    assert [row.split()[1] for row in rows] == ["ada", "bob", "cy", "dee", "eve"]
    assert rows[0].split()[:3] == ["1", "ada", "+2.97"]
    assert "below 90%" in rows[-1]


def test_an_unknown_event_is_refused(field, board_of):
    with pytest.raises(ValueError, match="'speed'.*combined"):
        board_of(field).ranking("speed")


@pytest.mark.parametrize("edit, problem", [
    (lambda data: {**data, "schema": "tinytorch-olympics-submission"}, "schema"),
    (lambda data: {**data, "rules_version": 2}, "rules version 2"),
    (lambda data: {k: v for k, v in data.items() if k != "environment"}, "missing field 'environment'"),
    (lambda data: {**data, "entries": {"ada": {}}}, "'entries' must be list"),
    (lambda data: {**data, "entries": [data["entries"][0], {**data["entries"][1], "accuracy": None}]},
     "entry 1.*'accuracy'"),
    (lambda data: {**data, "entries": [{**data["entries"][0], "model_bytes": 1.5}]}, "entry 0.*'model_bytes'"),
])
def test_a_malformed_leaderboard_says_what_is_wrong(tmp_path, field, edit, problem, board_of):
    path = tmp_path / "board.json"
    path.write_text(json.dumps(edit(board_of(field).to_dict())))
    with pytest.raises(ValueError, match=problem) as error:
        Leaderboard.load(path)
    assert str(path) in str(error.value)


# -- a TinyTalks board ------------------------------------------------------------------------

@pytest.fixture
def talks_board(make_entry, lab):
    """A TinyTalks board: latencies per token, with (``latency``) and without the KV cache."""
    board = Leaderboard(environment={**lab, "task": "tinytalks"})
    for entry in [
        make_entry("ada", accuracy=0.95, latency=2e-3, uncached=3e-3, model_bytes=2_000_000),   # score 2
        make_entry("bob", accuracy=0.80, latency=1e-3, uncached=8e-3, model_bytes=1_000_000),   # 0
        make_entry("cy", accuracy=0.60, latency=5e-4, uncached=6e-4, model_bytes=250_000),      # 1
        make_entry("dee", accuracy=0.40, latency=1e-4, uncached=1e-4, model_bytes=10_000),      # below 50 %
    ]:
        board.add(entry)
    return board


@pytest.mark.parametrize("event, expected", [
    ("combined", [(1, "ada"), (2, "cy"), (3, "bob"), (None, "dee")]),
    ("accuracy", [(1, "ada"), (2, "bob"), (3, "cy"), (4, "dee")]),
    ("latency", [(1, "cy"), (2, "bob"), (3, "ada"), (None, "dee")]),
    ("latency_no_cache", [(1, "cy"), (2, "ada"), (3, "bob"), (None, "dee")]),
    ("bytes", [(1, "cy"), (2, "bob"), (3, "ada"), (None, "dee")]),
])
def test_a_tinytalks_board_ranks_its_own_events(talks_board, event, expected):
    # 60 % qualifies here (the task's bar is 50 %); it would not on the digits' board
    assert names(talks_board.ranking(event)) == expected


def test_each_board_knows_only_its_tasks_events(talks_board, field, board_of):
    with pytest.raises(ValueError, match="'throughput'.*latency_no_cache"):
        talks_board.ranking("throughput")
    with pytest.raises(ValueError, match="'latency_no_cache'"):
        board_of(field).ranking("latency_no_cache")
    lines = talks_board.table("latency_no_cache").splitlines()
    assert "exact %" in lines[1] and "ms/token" in lines[1]
    assert lines[3].split()[:4] == ["1", "cy", "+1.00", "60.0"]
