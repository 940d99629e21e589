"""The command line: ``python -m tinytorch.systems.olympics submit / verify / leaderboard``.

``main(argv)`` is what ``python -m`` runs; calling it in-process is the same code without
starting a new interpreter. These runs use the rules' real benchmark (a few hundred
milliseconds for the trained MLP).
"""

import json
import shutil

import pytest

from tinytorch.systems.olympics import Leaderboard, main


@pytest.fixture
def model_file(tmp_path, saved_mlp):
    path = tmp_path / "ada.npz"
    shutil.copy(saved_mlp, path)
    return path


def test_submit_verify_and_rank_from_the_command_line(tmp_path, model_file, capsys):
    assert main(["submit", str(model_file), "--name", "ada"]) == 0
    out = capsys.readouterr().out
    submission = tmp_path / "ada.json"
    assert submission.exists() and "ada" in out and "accuracy 92" in out

    board = tmp_path / "board.json"
    assert main(["verify", str(submission), "--leaderboard", str(board)]) == 0
    out = capsys.readouterr().out
    assert "ada: verified" in out and "event: combined" in out
    assert len(Leaderboard.load(board).entries) == 1

    assert main(["verify", str(submission), "--leaderboard", str(board)]) == 0
    assert "duplicate" in capsys.readouterr().out
    assert len(Leaderboard.load(board).entries) == 1, "submitting again changes nothing"

    assert main(["leaderboard", str(board), "--event", "latency"]) == 0
    rows = capsys.readouterr().out.splitlines()
    assert rows[0] == "event: latency"
    assert any(row.split()[:2] == ["1", "ada"] for row in rows)


def test_a_rejected_submission_is_reported_and_the_others_still_count(tmp_path, model_file, capsys):
    main(["submit", str(model_file), "--name", "ada"])
    shutil.copy(model_file, tmp_path / "bob.npz")
    main(["submit", str(tmp_path / "bob.npz"), "--name", "bob"])
    data = json.loads((tmp_path / "bob.json").read_text())
    data["claims"]["accuracy"] = 0.999
    (tmp_path / "bob.json").write_text(json.dumps(data))
    capsys.readouterr()

    assert main(["verify", str(tmp_path / "ada.json"), str(tmp_path / "bob.json")]) == 1
    captured = capsys.readouterr()
    assert "rejected" in captured.err and "accuracy" in captured.err and "bob.json" in captured.err
    assert "ada: verified" in captured.out


def test_merging_boards_from_two_machines_fails_with_a_message(tmp_path, make_entry, lab, capsys):
    mine, theirs = Leaderboard(environment=lab), Leaderboard(environment={**lab, "cpu_count": 64})
    mine.add(make_entry("ada"))
    theirs.add(make_entry("bob", model="b"))
    mine.save(tmp_path / "mine.json")
    theirs.save(tmp_path / "theirs.json")

    assert main(["leaderboard", str(tmp_path / "mine.json"), str(tmp_path / "theirs.json")]) == 2
    assert "different machines" in capsys.readouterr().err

    same = Leaderboard(environment=lab)
    same.add(make_entry("cy", model="c"))
    same.save(tmp_path / "same.json")
    merged = tmp_path / "merged.json"
    assert main(["leaderboard", str(tmp_path / "mine.json"), str(tmp_path / "same.json"),
                 "--out", str(merged)]) == 0
    assert [entry.name for entry in Leaderboard.load(merged).entries] == ["ada", "cy"]
