"""Kata 10: Tokenization, turning text into the integers a language model reads.

A language model never sees letters. It sees token ids, integers in ``[0, vocab_size)``,
each of which selects one row of an embedding table (kata 11) and one output of the final
layer. The tokenizer fixes the trade-off every language model lives with:

- a small vocabulary (one token per character) needs small tables, but makes sequences
  long, and attention costs grow with the square of the sequence length;
- a large vocabulary (frequent words as single tokens) makes sequences short, but every
  extra token adds a row to the embedding and to the output layer, and rare tokens are
  seen too seldom to be learned well.

This kata builds two tokenizers.

``CharTokenizer``: one token per character
    Built from a corpus: id 0 is ``<unk>``, ids 1.. are the distinct characters of the
    corpus in sorted (code point) order. A character the corpus never had is encoded as
    ``<unk>`` (id 0), and id 0 decodes to the text ``"<unk>"``: the tokenizer never fails
    on new text, but such text does not round-trip.

``BPETokenizer``: byte-level byte-pair encoding (the scheme of GPT-2 and its successors)
    Text is encoded as UTF-8, so the 256 byte values are the base vocabulary and any text
    at all, emoji and Chinese included, can be encoded and decoded exactly: there are no
    unknown tokens. Training then learns merges: each merge joins the pair of adjacent
    tokens that is most frequent in the corpus into one new token. The ids are laid out
    as::

        0 .. 255              the 256 byte values (id b is the byte b)
        256 .. 256+S-1        the S special tokens, in the order given
        256+S ..              the merges, in the order they were learned

    Special tokens (``"<|endoftext|>"``, ``"<pad>"``) mark structure rather than text: they
    are cut out of the text before anything else, are never split or merged, and always
    encode to their reserved id.

Pre-tokenization (``pretokenize``)
    Before counting pairs, the text is cut into the special tokens and, between them,
    chunks matched by ``PRE_SPLIT``: a word with the space before it (" cat"), a run of
    punctuation with the space before it (" ?!"), or a run of white space ("\\n\\n").
    Merges happen inside chunks only: "cat." never becomes one token, and the same word
    gets the same tokens wherever it occurs. Concatenating the pieces gives back the text.

Training (``BPETokenizer.train``), the rules the tests check exactly
    1. Pre-tokenize; count how often each distinct chunk occurs (special tokens are left
       out); write each chunk as the tuple of its UTF-8 bytes.
    2. Count every adjacent pair inside the chunks, each chunk weighted by its count
       (``count_pairs``; "aaa" holds the pair (a, a) twice).
    3. Take the most frequent pair. Ties go to the smallest pair: the lowest first id, then
       the lowest second id (so (97, 98) beats (97, 99) and (98, 97) at the same count).
    4. Replace it in every chunk by the next free id (``merge_pair``: left to right, never
       overlapping, so with the merge (a, a) "aaa" becomes [aa, a]) and record the merge.
    5. Repeat until ``vocab_size`` tokens exist, or stop early when no chunk has a pair left
       (``vocab_size`` then reports the smaller true size).

Encoding
    Pre-tokenize; a special token becomes its id; a chunk becomes its bytes, on which the
    merges are applied in the order they were learned: repeatedly merge the adjacent pair
    with the EARLIEST merge (the lowest merge id) everywhere it occurs, until no adjacent
    pair is a merge. Applying merges in another order (left to right, or by frequency)
    produces different tokens from the ones the model was trained on.

Decoding
    Concatenate the bytes of all the tokens first, then decode UTF-8 once: a character of
    two to four bytes may be split across tokens, and only the joined bytes form it. Bytes
    that are not valid UTF-8 (a model may generate them) become U+FFFD, "\\ufffd".
"""

from __future__ import annotations

import json
import os
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from itertools import pairwise
from numbers import Integral
from pathlib import Path

UNK_TOKEN = "<unk>"
BYTE_VOCAB_SIZE = 256
DEFAULT_SPECIAL_TOKENS = ("<|endoftext|>", "<pad>")
# A word, a run of punctuation (each with at most one space before it), or a run of space.
PRE_SPLIT = re.compile(r" ?\w+| ?[^\w\s]+|\s+")
FILE_FORMAT = "tinytorch-bpe"
FILE_VERSION = 1


def checked_ids(ids: Iterable[int], vocab_size: int) -> list[int]:
    """``ids`` as a list of Python ints, each checked to lie in ``[0, vocab_size)``.

    TypeError for an id that is not an integer, ValueError naming an id out of range.
    """
    checked: list[int] = []
    for position, token_id in enumerate(ids):
        if not isinstance(token_id, Integral) or isinstance(token_id, bool):
            raise TypeError(f"token ids must be integers, got {token_id!r} "
                            f"({type(token_id).__name__}) at position {position}")
        if not 0 <= token_id < vocab_size:
            raise ValueError(f"token id {token_id} at position {position} is out of range: this "
                             f"tokenizer has vocab_size {vocab_size} (ids 0 to {vocab_size - 1})")
        checked.append(int(token_id))
    return checked


class CharTokenizer:
    """One token per character, with ``<unk>`` (id 0) for characters the corpus lacked."""

    unk_id = 0

    def __init__(self, corpus: str) -> None:
        """Build the vocabulary from ``corpus``: ``["<unk>"]`` + its distinct characters, sorted.

        ``self.vocabulary[i]`` is the text of token ``i``. An empty corpus (or one that is
        not a ``str``) is an error: the tokenizer would know no character at all.
        """
        # BEGIN SOLUTION
        if not isinstance(corpus, str) or not corpus:
            raise ValueError(f"a CharTokenizer needs a non-empty str corpus, got {corpus!r}")
        self.vocabulary: list[str] = [UNK_TOKEN, *sorted(set(corpus))]
        self._ids = {char: token_id for token_id, char in enumerate(self.vocabulary)
                     if token_id != self.unk_id}
        # END SOLUTION

    @property
    def vocab_size(self) -> int:
        """The number of token ids: the distinct characters plus one for ``<unk>``."""
        # BEGIN SOLUTION
        return len(self.vocabulary)
        # END SOLUTION

    def encode(self, text: str) -> list[int]:
        """One id per character of ``text``; ``unk_id`` for a character not in the vocabulary."""
        # BEGIN SOLUTION
        return [self._ids.get(char, self.unk_id) for char in text]
        # END SOLUTION

    def decode(self, ids: Iterable[int]) -> str:
        """The text of ``ids``; ``unk_id`` gives ``"<unk>"``. Checked with ``checked_ids``."""
        # BEGIN SOLUTION
        return "".join(self.vocabulary[token_id] for token_id in checked_ids(ids, self.vocab_size))
        # END SOLUTION


def pretokenize(text: str, special_tokens: Iterable[str] = ()) -> list[str]:
    """Cut ``text`` into special tokens and, between them, the chunks of ``PRE_SPLIT``.

    Special tokens are found first, leftmost first, and the longest one wins where two
    start at the same place ("<|end|>" and "<|end|>!" in "<|end|>!" give the longer one).
    The text between them is split with ``PRE_SPLIT.findall``. The pieces, joined, give
    back ``text``; an empty text gives []. ``pretokenize("Hi you<pad>!", ["<pad>"])`` is
    ``["Hi", " you", "<pad>", "!"]``.
    """
    # BEGIN SOLUTION
    specials = sorted((token for token in special_tokens if token), key=len, reverse=True)
    if not specials:
        return PRE_SPLIT.findall(text)
    parts = re.split("(" + "|".join(map(re.escape, specials)) + ")", text)
    pieces = []
    for index, part in enumerate(parts):
        if index % 2:
            pieces.append(part)  # re.split puts the captured special tokens at odd indices
        else:
            pieces.extend(PRE_SPLIT.findall(part))
    return pieces
    # END SOLUTION


def count_pairs(chunks: Mapping[tuple[int, ...], int]) -> Counter:
    """How often each adjacent pair of ids occurs: ``{(a, b): count}``.

    ``chunks`` maps a chunk (a tuple of ids) to the number of times it occurs; a pair
    inside it counts that many times. Pairs overlap: (1, 1, 1) holds (1, 1) twice. Pairs
    never span two chunks.
    """
    # BEGIN SOLUTION
    counts: Counter = Counter()
    for chunk, occurrences in chunks.items():
        for pair in pairwise(chunk):
            counts[pair] += occurrences
    return counts
    # END SOLUTION


def merge_pair(ids: Sequence[int], pair: tuple[int, int], new_id: int) -> list[int]:
    """``ids`` with every occurrence of ``pair`` replaced by ``new_id``, left to right.

    Occurrences never overlap: with pair (7, 7), [7, 7, 7] gives [new_id, 7] and
    [7, 7, 7, 7] gives [new_id, new_id]. A pair at the very end is replaced too.
    """
    # BEGIN SOLUTION
    merged = []
    index = 0
    while index < len(ids):
        if index + 1 < len(ids) and ids[index] == pair[0] and ids[index + 1] == pair[1]:
            merged.append(new_id)
            index += 2
        else:
            merged.append(ids[index])
            index += 1
    return merged
    # END SOLUTION


class BPETokenizer:
    """A byte-level BPE tokenizer: ``BPETokenizer.train(text, vocab_size)`` learns one.

    ``merges`` lists the learned pairs in order (merge k created id 256 + S + k);
    ``special_tokens`` maps each special token to its id.
    """

    def __init__(self, merges: Iterable[tuple[int, int]] = (),
                 special_tokens: Sequence[str] = ()) -> None:
        """A tokenizer from merges already learned (``train`` and ``load`` call this).

        Builds the bytes of every token: byte b is ``bytes([b])``, a special token is its
        UTF-8 text, and the token of merge (a, b) is bytes(a) + bytes(b).

        Errors (ValueError):
        - special tokens that are not distinct non-empty strings:
          "special tokens must be distinct non-empty strings, got [...]";
        - a merge that is not two integer ids which exist before it, or that uses a special
          token, or repeats an earlier merge:
          "merge 3 (5, 999) must be two ids below 262 that are not special tokens" /
          "merge 3 (5, 6) repeats merge 1".
        """
        # BEGIN SOLUTION
        specials = list(special_tokens)
        if (not all(isinstance(token, str) and token for token in specials)
                or len(set(specials)) != len(specials)):
            raise ValueError(f"special tokens must be distinct non-empty strings, got {specials!r}")
        self.special_tokens: dict[str, int] = {
            token: BYTE_VOCAB_SIZE + index for index, token in enumerate(specials)}
        self._token_bytes: list[bytes] = [bytes([value]) for value in range(BYTE_VOCAB_SIZE)]
        self._token_bytes += [token.encode("utf-8") for token in specials]
        self.merges: list[tuple[int, int]] = []
        self._merge_ids: dict[tuple[int, int], int] = {}  # pair -> the id its merge created
        special_ids = set(self.special_tokens.values())
        for index, pair in enumerate(merges):
            new_id = len(self._token_bytes)
            if (not isinstance(pair, (tuple, list)) or len(pair) != 2
                    or not all(isinstance(i, Integral) and not isinstance(i, bool)
                               and 0 <= i < new_id and i not in special_ids for i in pair)):
                raise ValueError(f"merge {index} {pair!r} must be two ids below {new_id} "
                                 f"that are not special tokens")
            first, second = int(pair[0]), int(pair[1])
            if (first, second) in self._merge_ids:
                earlier = self._merge_ids[first, second] - BYTE_VOCAB_SIZE - len(specials)
                raise ValueError(f"merge {index} {(first, second)!r} repeats merge {earlier}")
            self.merges.append((first, second))
            self._merge_ids[first, second] = new_id
            self._token_bytes.append(self._token_bytes[first] + self._token_bytes[second])
        # END SOLUTION

    @classmethod
    def train(cls, text: str, vocab_size: int,
              special_tokens: Sequence[str] = DEFAULT_SPECIAL_TOKENS) -> BPETokenizer:
        """Learn merges on ``text`` until there are ``vocab_size`` tokens (module docstring).

        ``vocab_size`` counts the 256 bytes, the special tokens and the merges, so
        ``vocab_size - 256 - len(special_tokens)`` merges are learned (fewer if the text
        runs out of pairs). A ``vocab_size`` below 256 + len(special_tokens) is a
        ValueError: "vocab_size 257 is too small: 256 byte tokens and 2 special tokens
        need at least 258".
        """
        # BEGIN SOLUTION
        specials = list(special_tokens)
        first_merge_id = BYTE_VOCAB_SIZE + len(specials)
        if vocab_size < first_merge_id:
            raise ValueError(f"vocab_size {vocab_size} is too small: {BYTE_VOCAB_SIZE} byte tokens "
                             f"and {len(specials)} special tokens need at least {first_merge_id}")
        chunks = Counter(tuple(piece.encode("utf-8")) for piece in pretokenize(text, specials)
                         if piece not in specials)
        merges: list[tuple[int, int]] = []
        while first_merge_id + len(merges) < vocab_size:
            counts = count_pairs(chunks)
            if not counts:
                break
            pair = min(counts, key=lambda candidate: (-counts[candidate], candidate))
            new_id = first_merge_id + len(merges)
            merged: Counter = Counter()
            for chunk, occurrences in chunks.items():
                merged[tuple(merge_pair(chunk, pair, new_id))] += occurrences
            chunks = merged
            merges.append(pair)
        return cls(merges, specials)
        # END SOLUTION

    @property
    def vocab_size(self) -> int:
        """256 bytes + the special tokens + the merges."""
        # BEGIN SOLUTION
        return len(self._token_bytes)
        # END SOLUTION

    def token_bytes(self, token_id: int) -> bytes:
        """The bytes token ``token_id`` stands for (a special token: its UTF-8 text)."""
        # BEGIN SOLUTION
        return self._token_bytes[checked_ids([token_id], self.vocab_size)[0]]
        # END SOLUTION

    def _encode_chunk(self, chunk: bytes) -> list[int]:
        """The ids of one chunk: its bytes, merged in the order the merges were learned."""
        # BEGIN SOLUTION
        ids = list(chunk)
        while len(ids) > 1:
            candidates = [(self._merge_ids[pair], pair) for pair in pairwise(ids)
                          if pair in self._merge_ids]
            if not candidates:
                break
            new_id, pair = min(candidates)
            ids = merge_pair(ids, pair, new_id)
        return ids
        # END SOLUTION

    def encode(self, text: str) -> list[int]:
        """The ids of ``text``: special tokens by their id, every chunk by ``_encode_chunk``."""
        # BEGIN SOLUTION
        ids: list[int] = []
        for piece in pretokenize(text, self.special_tokens):
            if piece in self.special_tokens:
                ids.append(self.special_tokens[piece])
            else:
                ids.extend(self._encode_chunk(piece.encode("utf-8")))
        return ids
        # END SOLUTION

    def decode(self, ids: Iterable[int]) -> str:
        """The text of ``ids``: all their bytes joined, then decoded as UTF-8 once.

        Invalid UTF-8 becomes "\\ufffd". Ids are checked with ``checked_ids``: an id out of
        range is a ValueError that names it.
        """
        # BEGIN SOLUTION
        data = b"".join(self._token_bytes[token_id]
                        for token_id in checked_ids(ids, self.vocab_size))
        return data.decode("utf-8", errors="replace")
        # END SOLUTION

    def save(self, path: str | os.PathLike) -> None:
        """Write the tokenizer to ``path`` as JSON (never pickle)::

            {"format": "tinytorch-bpe", "version": 1,
             "special_tokens": ["<|endoftext|>", "<pad>"], "merges": [[104, 105], ...]}
        """
        # BEGIN SOLUTION
        document = {"format": FILE_FORMAT, "version": FILE_VERSION,
                    "special_tokens": list(self.special_tokens),
                    "merges": [list(pair) for pair in self.merges]}
        Path(path).write_text(json.dumps(document), encoding="utf-8")
        # END SOLUTION

    @classmethod
    def load(cls, path: str | os.PathLike) -> BPETokenizer:
        """Read a tokenizer written by ``save``.

        A file that is not JSON, or whose "format" is not "tinytorch-bpe" version 1, is a
        ValueError naming the file ("... is not a tinytorch-bpe tokenizer file ...");
        invalid merges or special tokens fail as in ``__init__``.
        """
        # BEGIN SOLUTION
        try:
            document = json.loads(Path(path).read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            raise ValueError(f"{path} is not a {FILE_FORMAT} tokenizer file: {error}") from None
        if (not isinstance(document, dict) or document.get("format") != FILE_FORMAT
                or document.get("version") != FILE_VERSION):
            found = document.get("format") if isinstance(document, dict) else type(document).__name__
            raise ValueError(f"{path} is not a {FILE_FORMAT} tokenizer file version "
                             f"{FILE_VERSION} (found format {found!r})")
        return cls(document.get("merges", []), document.get("special_tokens", []))
        # END SOLUTION
