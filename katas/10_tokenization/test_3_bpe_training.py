"""BPETokenizer.train: merges computed by hand, the tie rule, boundaries, special tokens."""

import re

import pytest

from tinytorch.data.tokenization import BPETokenizer

A, B, C, SPACE = ord("a"), ord("b"), ord("c"), ord(" ")


def test_merges_computed_by_hand():
    # Chunks "aaa" and " aab", as bytes: (a, a, a) and (space, a, a, b).
    # 1. counts (a,a) 2 + 1 = 3, (space,a) 1, (a,b) 1           -> (a, a) = 256
    #    chunks (256, a) and (space, 256, b)
    # 2. counts (256,a) 1, (space,256) 1, (256,b) 1: a tie       -> smallest pair (space, 256) = 257
    #    chunks (256, a) and (257, b)
    # 3. counts (256,a) 1, (257,b) 1: a tie                      -> (256, a) = 258
    # 4. only (257, b) is left                                   -> (257, b) = 259; no pair remains
    tokenizer = BPETokenizer.train("aaa aab", 300, special_tokens=())
    assert tokenizer.merges == [(A, A), (SPACE, 256), (256, A), (257, B)]
    assert tokenizer.vocab_size == 260, "training stops early once no pair is left"
    assert tokenizer.token_bytes(258) == b"aaa" and tokenizer.token_bytes(259) == b" aab"


def test_vocab_size_decides_how_many_merges():
    tokenizer = BPETokenizer.train("aaa aab", 258, special_tokens=())
    assert tokenizer.merges == [(A, A), (SPACE, 256)]
    assert tokenizer.vocab_size == 258


def test_ties_go_to_the_smallest_pair():
    # Every pair of "cabc" occurs once: (a, b) is the smallest, though (c, a) comes first.
    assert BPETokenizer.train("cabc", 257, special_tokens=()).merges == [(A, B)]
    # (c, b) and (c, a) both occur twice: the same first id, so the lower second id wins.
    assert BPETokenizer.train("cb\ncb\nca\nca", 257, special_tokens=()).merges == [(C, A)]


def test_overlapping_pairs_all_count():
    # "aaa" holds (a, a) twice, as often as (b, c) in " bcbc": the tie goes to (a, a). Counting
    # only non-overlapping occurrences would find (a, a) once and merge (b, c).
    assert BPETokenizer.train("aaa bcbc", 257, special_tokens=()).merges == [(A, A)]


def test_repeated_chunks_count_as_often_as_they_occur():
    # "zz" occurs three times, "ab" once: (z, z) wins although (a, b) is the smaller pair.
    assert BPETokenizer.train("ab\nzz\nzz\nzz", 257, special_tokens=()).merges == [(122, 122)]


def test_pairs_never_span_two_chunks():
    # Pre-tokenized, "a.a.a.a." is the chunks "a", ".", "a", ...: not a single pair inside one.
    tokenizer = BPETokenizer.train("a.a.a.a.", 300, special_tokens=())
    assert tokenizer.merges == []
    assert tokenizer.vocab_size == 256
    # The space belongs to the next word: "b " is never counted, " b" is.
    assert BPETokenizer.train("ab ab ab", 257, special_tokens=()).merges == [(A, B)]
    assert BPETokenizer.train("ab ab ab", 258, special_tokens=()).merges[1] == (SPACE, 256)


def test_special_tokens_get_the_ids_after_the_bytes():
    tokenizer = BPETokenizer.train("hello", 260)  # the default special tokens
    assert tokenizer.special_tokens == {"<|endoftext|>": 256, "<pad>": 257}
    # All four pairs of "hello" tie; (e, l) is the smallest and takes the first free id, 258.
    assert tokenizer.merges == [(ord("e"), ord("l")), (ord("h"), 258)]
    assert tokenizer.token_bytes(258) == b"el" and tokenizer.token_bytes(259) == b"hel"
    assert tokenizer.token_bytes(256) == b"<|endoftext|>"
    assert tokenizer.vocab_size == 260


def test_special_tokens_are_left_out_of_training():
    # Counted as text, "<|endoftext|>" would give the most frequent pairs (and "i<" a pair
    # across the boundary). Cut out, only "hi" is left to merge.
    tokenizer = BPETokenizer.train("hi<|endoftext|>" * 20, 300, special_tokens=("<|endoftext|>",))
    assert tokenizer.merges == [(ord("h"), ord("i"))]
    assert tokenizer.vocab_size == 258
    assert tokenizer.token_bytes(257) == b"hi"


def test_vocab_size_too_small_for_bytes_and_specials():
    with pytest.raises(ValueError, match="vocab_size 257 is too small: 256 byte tokens and 2 special "
                                         "tokens need at least 258"):
        BPETokenizer.train("hello", 257)
    with pytest.raises(ValueError, match="vocab_size 100 is too small: 256 byte tokens and 0 special"):
        BPETokenizer.train("hello", 100, special_tokens=())
    assert BPETokenizer.train("hello", 258).merges == []


def reference_merges(text: str, count: int) -> list[tuple[int, int]]:
    """A second BPE trainer, written plainly: it keeps every chunk (repeats included) as a list."""
    chunks = [list(piece.encode("utf-8")) for piece in re.findall(r" ?\w+| ?[^\w\s]+|\s+", text)]
    merges = []
    for k in range(count):
        counts: dict[tuple[int, int], int] = {}
        for chunk in chunks:
            for i in range(len(chunk) - 1):
                counts[chunk[i], chunk[i + 1]] = counts.get((chunk[i], chunk[i + 1]), 0) + 1
        if not counts:
            break
        best = min(counts, key=lambda pair: (-counts[pair], pair))
        for chunk in chunks:
            i = 0
            while i < len(chunk) - 1:
                if (chunk[i], chunk[i + 1]) == best:
                    chunk[i:i + 2] = [256 + k]
                i += 1
        merges.append(best)
    return merges


def test_merges_agree_with_a_plain_reference_on_tinytalks(tinytalks_train):
    text = tinytalks_train[:3000] + " naïve café, déjà vu 😀😀 日本日本 " * 5
    tokenizer = BPETokenizer.train(text, 256 + 60, special_tokens=())
    assert tokenizer.merges == reference_merges(text, 60)
    assert tokenizer.vocab_size == 316


def test_training_on_tinytalks_reaches_the_vocab_size(trained_bpe):
    assert trained_bpe.vocab_size == 512
    assert len(trained_bpe.merges) == 512 - 256 - 2
    # Frequent words of TinyTalks became single tokens, with their leading space.
    assert trained_bpe.encode(" What") == [trained_bpe.encode(" What")[0]]
    assert len(trained_bpe.encode(" capital")) == 1
