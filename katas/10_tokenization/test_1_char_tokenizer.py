"""CharTokenizer: a sorted vocabulary of characters, with <unk> (id 0) for the unknown ones."""

import numpy as np
import pytest

from tinytorch.data.tokenization import CharTokenizer


def test_vocabulary_is_unk_then_the_sorted_distinct_characters():
    tokenizer = CharTokenizer("hello world")
    # Sorted by code point: the space (32) comes before every letter.
    assert tokenizer.vocabulary == ["<unk>", " ", "d", "e", "h", "l", "o", "r", "w"]
    assert tokenizer.vocab_size == 9
    assert tokenizer.unk_id == 0


def test_encode_gives_one_id_per_character():
    tokenizer = CharTokenizer("hello world")
    ids = tokenizer.encode("hello")
    assert ids == [4, 3, 5, 5, 6]
    assert all(type(i) is int for i in ids)
    assert tokenizer.encode("world hello") == [8, 6, 7, 5, 2, 1, 4, 3, 5, 5, 6]


def test_decode_inverts_encode():
    tokenizer = CharTokenizer("hello world")
    assert tokenizer.decode([4, 3, 5, 5, 6]) == "hello"
    assert tokenizer.decode(tokenizer.encode("old lower hello")) == "old lower hello"


def test_ids_follow_code_point_order_for_any_unicode():
    corpus = "naïve café 😀\n日本 Zebra"
    tokenizer = CharTokenizer(corpus)
    assert tokenizer.vocab_size == len(set(corpus)) + 1
    ids = tokenizer.encode("\n Zaé日😀")  # code points 10, 32, 90, 97, 233, 26085, 128512
    assert ids == sorted(ids) and len(set(ids)) == 7 and 0 not in ids
    assert tokenizer.decode(tokenizer.encode(corpus)) == corpus


def test_unknown_characters_become_unk_and_decode_as_unk_text():
    tokenizer = CharTokenizer("hello world")
    ids = tokenizer.encode("hi, Hello!")
    assert ids == [4, 0, 0, 1, 0, 3, 5, 5, 6, 0]
    assert tokenizer.decode(ids) == "h<unk><unk> <unk>ello<unk>"


def test_empty_text_and_empty_ids():
    tokenizer = CharTokenizer("abc")
    assert tokenizer.encode("") == []
    assert tokenizer.decode([]) == ""


def test_decode_accepts_numpy_integers():
    tokenizer = CharTokenizer("hello world")
    assert tokenizer.decode(np.array([4, 3, 5, 5, 6], dtype=np.int64)) == "hello"
    assert tokenizer.decode([np.int32(8), np.uint8(6)]) == "wo"


def test_decode_names_an_id_out_of_range():
    tokenizer = CharTokenizer("hello world")
    with pytest.raises(ValueError, match=r"token id 9 at position 1 is out of range: this tokenizer "
                                         r"has vocab_size 9 \(ids 0 to 8\)"):
        tokenizer.decode([4, 9, 3])
    with pytest.raises(ValueError, match=r"token id -1 at position 0 is out of range"):
        tokenizer.decode([-1])


def test_decode_refuses_ids_that_are_not_integers():
    tokenizer = CharTokenizer("hello world")
    with pytest.raises(TypeError, match=r"token ids must be integers, got 1.5 \(float\) at position 1"):
        tokenizer.decode([4, 1.5])


def test_an_empty_corpus_is_an_error():
    with pytest.raises(ValueError, match="a CharTokenizer needs a non-empty str corpus"):
        CharTokenizer("")


def test_tinytalks_validation_needs_no_unk(tinytalks_train, tinytalks_validation):
    tokenizer = CharTokenizer(tinytalks_train)
    ids = tokenizer.encode(tinytalks_validation)
    assert len(ids) == len(tinytalks_validation)
    assert tokenizer.unk_id not in ids, "TinyTalks uses the same few characters in every split"
    assert tokenizer.decode(ids) == tinytalks_validation
    assert 60 < tokenizer.vocab_size < 80
