"""The three building blocks of BPE: pretokenize, count_pairs and merge_pair."""

import numpy as np
import pytest

from tinytorch.data.tokenization import count_pairs, merge_pair, pretokenize

# -- pretokenize -----------------------------------------------------------------------------


def test_pretokenize_splits_words_punctuation_and_space():
    assert pretokenize("Q: What is 2 + 3?\nA: 5.\n\n") == [
        "Q", ":", " What", " is", " 2", " +", " 3", "?", "\n", "A", ":", " 5", ".", "\n\n"]


def test_pretokenize_keeps_runs_of_space_together():
    assert pretokenize("a  b\t\tc") == ["a", "  ", "b", "\t\t", "c"]


def test_pretokenize_cuts_out_special_tokens_whole():
    assert pretokenize("Hi you<pad>!", ["<pad>"]) == ["Hi", " you", "<pad>", "!"]
    # "|" is a regular-expression operator: the tokens must be matched literally.
    assert pretokenize("A: Hi.<|endoftext|>Q: Yo", ["<|endoftext|>"]) == [
        "A", ":", " Hi", ".", "<|endoftext|>", "Q", ":", " Yo"]


def test_pretokenize_handles_adjacent_and_edge_special_tokens():
    assert pretokenize("<pad><pad>x<pad>", ["<pad>"]) == ["<pad>", "<pad>", "x", "<pad>"]
    assert pretokenize("<pad>", ["<pad>"]) == ["<pad>"]


def test_the_longest_special_token_wins_where_two_start_together():
    specials = ["<|end|>", "<|end|>!"]
    assert pretokenize("x<|end|>!y", specials) == ["x", "<|end|>!", "y"]
    assert pretokenize("x<|end|>y", specials) == ["x", "<|end|>", "y"]


def test_special_tokens_are_only_cut_when_given():
    assert pretokenize("a<pad>") == ["a", "<", "pad", ">"]


def test_pretokenize_of_empty_text():
    assert pretokenize("") == []
    assert pretokenize("", ["<pad>"]) == []


@pytest.mark.parametrize("text", [
    "naïve café, 日本語 😀👍🏽!", "  two  spaces \n\n\tand tabs ", "end<|endoftext|>start<pad>",
    "x" * 100, "<<pad>>",
])
def test_the_pieces_join_back_into_the_text(text):
    pieces = pretokenize(text, ["<|endoftext|>", "<pad>"])
    assert "".join(pieces) == text
    assert all(pieces)


# -- count_pairs -----------------------------------------------------------------------------


def test_count_pairs_weights_each_chunk_by_its_count():
    assert count_pairs({(1, 2, 3): 2, (2, 3): 1}) == {(1, 2): 2, (2, 3): 3}


def test_count_pairs_counts_overlapping_pairs():
    assert count_pairs({(5, 5, 5): 1}) == {(5, 5): 2}
    assert count_pairs({(5, 5, 5, 5): 3}) == {(5, 5): 9}


def test_count_pairs_never_spans_two_chunks():
    counts = count_pairs({(1, 2): 1, (3, 4): 1, (9,): 7})
    assert counts == {(1, 2): 1, (3, 4): 1}
    assert count_pairs({}) == {}


# -- merge_pair ------------------------------------------------------------------------------


def test_merge_pair_replaces_every_occurrence():
    assert merge_pair([1, 2, 3, 1, 2], (1, 2), 9) == [9, 3, 9]


def test_overlapping_occurrences_merge_left_to_right():
    assert merge_pair([7, 7, 7], (7, 7), 9) == [9, 7]
    assert merge_pair([7, 7, 7, 7], (7, 7), 9) == [9, 9]
    assert merge_pair([7, 7, 7, 7, 7], (7, 7), 9) == [9, 9, 7]


def test_a_pair_at_the_end_and_the_edges():
    assert merge_pair([3, 1, 2], (1, 2), 9) == [3, 9]
    assert merge_pair([1, 2], (1, 2), 9) == [9]
    assert merge_pair([1], (1, 2), 9) == [1]
    assert merge_pair([], (1, 2), 9) == []
    assert merge_pair([2, 1], (1, 2), 9) == [2, 1]


def test_merge_pair_leaves_its_input_unchanged():
    ids = [1, 2, 1, 2]
    merged = merge_pair(ids, (1, 2), 9)
    assert ids == [1, 2, 1, 2] and merged == [9, 9]
    assert merge_pair((1, 2, 3), (2, 3), 9) == [1, 9]


def test_merge_pair_agrees_with_string_replacement():
    """str.replace scans left to right without overlaps: an independent reference."""
    rng = np.random.default_rng(10)
    letters = "abc"
    for _ in range(300):
        ids = rng.integers(0, 3, size=rng.integers(0, 12)).tolist()
        pair = tuple(rng.integers(0, 3, size=2).tolist())
        text = "".join(letters[i] for i in ids)
        expected = [9 if char == "z" else letters.index(char)
                    for char in text.replace(letters[pair[0]] + letters[pair[1]], "z")]
        assert merge_pair(ids, pair, 9) == expected, (ids, pair)
