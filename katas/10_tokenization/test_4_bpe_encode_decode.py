"""Encoding applies the merges in learned order; decoding joins bytes before reading UTF-8."""

import pytest

from tinytorch.data.tokenization import BPETokenizer

A, B, C = ord("a"), ord("b"), ord("c")


# -- merge order -----------------------------------------------------------------------------


def test_the_earliest_merge_applies_first_even_when_it_is_not_leftmost():
    # Merge 0 is (b, c) = 256, merge 1 is (a, b) = 257. In "abc" both pairs are present: the
    # earlier merge wins, giving [a, bc]. Left to right, or latest first, gives [ab, c].
    tokenizer = BPETokenizer([(B, C), (A, B)])
    assert tokenizer.encode("abc") == [A, 256]
    assert tokenizer.encode("ab") == [257]
    assert tokenizer.encode("abcab") == [A, 256, 257]


def test_merges_are_not_chosen_by_their_frequency_in_the_text():
    # (b, c) occurs twice in "abcbc", (a, b) once; the learned order merges (a, b) first.
    tokenizer = BPETokenizer([(A, B), (B, C)])
    assert tokenizer.encode("abcbc") == [256, C, 257]


def test_later_merges_build_on_earlier_ones():
    tokenizer = BPETokenizer([(A, A), (256, A)])  # aa = 256, aaa = 257
    assert tokenizer.encode("aaa") == [257]
    assert tokenizer.encode("aaaa") == [256, 256]
    assert tokenizer.encode("aaaaa") == [256, 257]  # aa aa a, then (aa, a)


def test_encoding_the_training_text_reproduces_the_merges():
    # Trained as in test_3: aa = 256, " aa" = 257, aaa = 258, " aab" = 259.
    tokenizer = BPETokenizer.train("aaa aab", 300, special_tokens=())
    assert tokenizer.encode("aaa aab") == [258, 259]
    assert tokenizer.encode(" aaa") == [257, A]


def test_merges_stay_inside_chunks_when_encoding():
    tokenizer = BPETokenizer([(A, ord("."))])  # a merge training would never learn
    assert tokenizer.encode("a.") == [A, ord(".")], "pre-tokenize before applying merges"


# -- special tokens --------------------------------------------------------------------------


def test_special_tokens_encode_to_their_reserved_ids():
    tokenizer = BPETokenizer([], ["<|endoftext|>", "<pad>"])
    assert tokenizer.encode("a<|endoftext|>b<pad><pad>") == [A, 256, B, 257, 257]
    assert tokenizer.decode([A, 256, B, 257]) == "a<|endoftext|>b<pad>"


def test_special_tokens_are_never_split_by_merges():
    # "<|" is frequent in the ordinary text, so merges for it are learned; the special token
    # must still come out as its single id.
    text = "a <| b <|endoftext|> c <|end " * 10
    tokenizer = BPETokenizer.train(text, 280, special_tokens=("<|endoftext|>",))
    assert any(tokenizer.token_bytes(i) == b" <|" for i in range(257, tokenizer.vocab_size))
    ids = tokenizer.encode("x<|endoftext|>y <|end")
    assert ids[:3] == [ord("x"), 256, ord("y")]
    assert 256 not in ids[3:]
    assert tokenizer.decode(ids) == "x<|endoftext|>y <|end"


# -- round trips -----------------------------------------------------------------------------

TEXTS = [
    "",
    "a",
    "Q: What is the capital of France?\nA: Paris.\n\n",
    "naïve café, déjà vu, crème brûlée",
    "日本語のテキストと中文",
    "emoji 😀👍🏽 and a family 👨‍👩‍👧 and flags 🇫🇷",
    "tabs\tand\nnew lines\r\n and  double  spaces  ",
    "e\u0301 is not \u00e9",
    "\x00\x01 control characters \x7f",
    "Ωμέγα and Кириллица",
]


@pytest.mark.parametrize("text", TEXTS, ids=range(len(TEXTS)))
def test_any_text_round_trips(trained_bpe, text):
    ids = trained_bpe.encode(text)
    assert all(type(i) is int and 0 <= i < trained_bpe.vocab_size for i in ids)
    assert trained_bpe.decode(ids) == text


def test_multibyte_merges_round_trip():
    text = "déjà vu, café, 😀😀😀, 日本日本 " * 20
    tokenizer = BPETokenizer.train(text, 320, special_tokens=())
    assert any(len(tokenizer.token_bytes(i)) > 4 for i in range(256, tokenizer.vocab_size))
    assert tokenizer.decode(tokenizer.encode(text)) == text
    assert len(tokenizer.encode(text)) < len(text.encode("utf-8")) / 3


def test_a_character_split_across_tokens_decodes_whole():
    # é is the two bytes C3 A9. With the merge (f, C3), "café" is [c, a, f+C3, A9]: é is split
    # across two tokens, and only their joined bytes are valid UTF-8.
    tokenizer = BPETokenizer([(ord("f"), 0xC3)])
    ids = tokenizer.encode("café")
    assert ids == [ord("c"), A, 256, 0xA9]
    assert tokenizer.decode(ids) == "café"
    assert tokenizer.decode([0xF0, 0x9F, 0x98, 0x80]) == "😀"


def test_incomplete_utf8_becomes_the_replacement_character():
    tokenizer = BPETokenizer([(ord("f"), 0xC3)])
    assert tokenizer.decode([256]) == "f\ufffd"
    assert tokenizer.decode([0xA9, A]) == "\ufffda"


def test_bytes_need_no_unknown_token():
    tokenizer = BPETokenizer()
    assert tokenizer.vocab_size == 256
    assert tokenizer.encode("é😀") == [0xC3, 0xA9, 0xF0, 0x9F, 0x98, 0x80]
    assert tokenizer.token_bytes(0x41) == b"A"


# -- bad ids and bad tokenizers --------------------------------------------------------------


def test_decode_names_an_id_out_of_range(trained_bpe):
    with pytest.raises(ValueError, match=r"token id 512 at position 2 is out of range: this tokenizer "
                                         r"has vocab_size 512 \(ids 0 to 511\)"):
        trained_bpe.decode([A, B, 512])
    with pytest.raises(ValueError, match=r"token id -3 at position 0 is out of range"):
        trained_bpe.decode([-3])


def test_a_special_token_id_the_tokenizer_lacks_is_an_error():
    tokenizer = BPETokenizer([], ["<pad>"])  # ids 0..256, 256 = <pad>
    assert tokenizer.decode([256]) == "<pad>"
    with pytest.raises(ValueError, match=r"token id 257 at position 0 is out of range: this tokenizer "
                                         r"has vocab_size 257"):
        tokenizer.decode([257])


def test_decode_refuses_ids_that_are_not_integers(trained_bpe):
    with pytest.raises(TypeError, match=r"token ids must be integers, got '7' \(str\) at position 0"):
        trained_bpe.decode(["7"])


def test_special_tokens_must_be_distinct_non_empty_strings():
    with pytest.raises(ValueError, match=r"special tokens must be distinct non-empty strings, got "
                                         r"\['<pad>', '<pad>'\]"):
        BPETokenizer([], ["<pad>", "<pad>"])
    with pytest.raises(ValueError, match="special tokens must be distinct non-empty strings"):
        BPETokenizer([], [""])


def test_invalid_merges_are_named():
    with pytest.raises(ValueError, match=r"merge 1 \(97, 300\) must be two ids below 257 that are not "
                                         r"special tokens"):
        BPETokenizer([(A, B), (A, 300)])
    with pytest.raises(ValueError, match=r"merge 0 \(256, 97\) must be two ids below 257"):
        BPETokenizer([(256, A)], ["<pad>"])  # 256 is the special token, not a merge
    with pytest.raises(ValueError, match=r"merge 2 \(97, 98\) repeats merge 0"):
        BPETokenizer([(A, B), (B, C), (A, B)])
