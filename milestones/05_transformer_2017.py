"""Milestone 5 (2017): a transformer, trained from scratch, answers questions it has never seen.

In 2017 Ashish Vaswani and seven colleagues at Google published "Attention Is All You
Need". Their transformer dropped the recurrence that language models had relied on: every
token looks at every earlier token at once through attention, so a whole sequence trains in
one parallel pass. A year later OpenAI's GPT kept only its decoder, a stack of causal
self-attention blocks trained to predict the next token, and every large language model
since has been a descendant of that design.

This script builds a TinyGPT with everything you wrote: the BPE tokenizer (kata 10),
token and position embeddings (kata 11), causal multi-head attention (kata 12), layer
norm, the MLP and the pre-norm blocks of GPT (kata 13), your autograd, AdamW and a warm-up
+ cosine schedule with gradient clipping. It trains from random weights on TinyTalks, about
2,000 questions and answers, then answers the 544 questions of the test split by greedy
generation: the prompt is the question (after the earlier turns of its dialogue, if any),
``Q: <question>\\nA:``, and the model's answer is what it writes up to the end of the line,
which must be exactly a space and the expected answer.

The test questions are NOT in the training text: each one asks a fact the training split
holds in a phrasing that fact never had there ("The capital of Peru is which city?" when
training only asked "What is the capital of Peru?" and three other ways). Answering it
exactly means the model has learned the fact and the language, not the string.

Each conversation is one training example: a block of TinyTalks after the special token
``<|endoftext|>``, so the model sees every prompt exactly as it is asked at test time. The
tokenizer learns enough merges that every word of TinyTalks is one token. The loss is on the
answers only: the model reads the questions but is never asked to predict them, which
keeps it from memorising the training questions. Conversations are packed into sequences
of up to 128 tokens, in a new order every epoch, so that every question is seen at many
positions, as it will be asked in a dialogue.

Success means at least 80% of the test answers exactly right (every character), with the
training done within 10 minutes on one core. The script prints the loss curve's numbers,
sample dialogues (question, expected answer, generated answer) and the answers it got wrong.

    python milestones/05_transformer_2017.py [--impl reference] [--smoke] [--out PATH] [--plot PNG]
"""

from __future__ import annotations

import re
import time
from collections import defaultdict
from collections.abc import Sequence

import common

RUN = common.start(__file__, __doc__)

# Imported only now: NumPy after common pinned BLAS to one thread, tinytorch after
# common.start chose whose tinytorch (yours or the reference) it is.
import numpy as np

from tinytorch.core import Tensor, no_grad
from tinytorch.data import BPETokenizer, load_tinytalks, tinytalks_pairs
from tinytorch.nn import GPT, CrossEntropyLoss, Module
from tinytorch.optim import AdamW
from tinytorch.training import WarmupCosineLR, clip_grad_norm

SEED = 2017
EPOCHS = 70
BATCH_SIZE = 8            # packed sequences of up to MAX_LEN tokens
LEARNING_RATE = 3e-3
WEIGHT_DECAY = 0.05
WARMUP_EPOCHS = 1
MAX_GRAD_NORM = 1.0
MODEL = {"dim": 128, "num_layers": 4, "num_heads": 4, "mlp_ratio": 4, "dropout": 0.1}
VOCAB_SIZE = 1500         # more than TinyTalks needs: BPE stops when every word is one token
MAX_LEN = 128             # the longest TinyTalks conversation has 75 tokens
BLOCK_START = "<|endoftext|>"   # the special token that opens every conversation
END_OF_ANSWER = "\n"
ANSWERS_ONLY = True       # the loss is on the answers (see encode_conversation)
ANSWER_LINE = re.compile(rb"(?m)^A:( [^\n]*\n)")
GENERATION_CHUNK = 8      # new tokens per generate() call; stop once every answer has ended

SMOKE_EPOCHS = 2  # one of warm-up, one of cosine decay
SMOKE_TRAIN_BLOCKS = 96
SMOKE_TEST_PAIRS = 24
SMOKE_MODEL = {"dim": 32, "num_layers": 1, "num_heads": 2, "mlp_ratio": 2, "dropout": 0.0}

REQUIRED_EXACT_MATCH = 0.80
TIME_BUDGET_SECONDS = 600.0
SAMPLES_SHOWN = 8


def conversations(text: str) -> list[str]:
    """The blocks of a TinyTalks split, each as the model reads it: BLOCK_START + block.

    Every block ends with the newline after its last answer, so the model also learns to
    end an answer.
    """
    return [BLOCK_START + block + "\n" for block in text.rstrip("\n").split("\n\n")]


def length_batches(lengths: np.ndarray, rng: np.random.Generator) -> list[np.ndarray]:
    """Indices of the examples, in batches of similar lengths, the batches in random order.

    Sorting by length (random order among equal lengths) and cutting the order into
    batches keeps the padding small; shuffling the batches keeps the epochs varied.
    """
    order = np.lexsort((rng.random(len(lengths)), lengths))
    batches = [order[start:start + BATCH_SIZE] for start in range(0, len(order), BATCH_SIZE)]
    return [batches[i] for i in rng.permutation(len(batches))]


def encode_conversation(tokenizer: BPETokenizer, text: str) -> tuple[np.ndarray, np.ndarray]:
    """The token ids of a conversation, and which of them the loss is on.

    With ANSWERS_ONLY the model is trained to predict the answers only: every token of an
    answer line after its "A:", the space before the answer and the newline after it
    included. The questions are read, never predicted, so no capacity goes into memorising
    which questions the training text happens to ask. Otherwise every token after the first.
    """
    ids = np.array(tokenizer.encode(text), dtype=np.int64)
    if not ANSWERS_ONLY:
        return ids, np.arange(len(ids)) > 0
    data = text.encode("utf-8")
    in_answer = np.zeros(len(data), dtype=bool)
    for match in ANSWER_LINE.finditer(data):
        in_answer[match.start(1):match.end(1)] = True
    token_starts = np.cumsum([0] + [len(tokenizer.token_bytes(i)) for i in ids[:-1]])
    return ids, in_answer[token_starts]


def pack(examples: Sequence[tuple[np.ndarray, np.ndarray]],
         order: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """The conversations in ``order``, concatenated into sequences of at most MAX_LEN tokens.

    Packing several conversations into one sequence, as GPT's pre-training does with its
    documents, puts each question at ever-changing positions. Trained one conversation at a
    time, the model would meet questions almost only at the first positions (a dialogue's
    later turns are rare), and the learned position embeddings of later positions would be
    too poorly trained to answer there. Every conversation starts with ``<|endoftext|>``,
    which tells the model that what came before is another conversation.
    """
    packed: list[tuple[np.ndarray, np.ndarray]] = []
    pending: list[tuple[np.ndarray, np.ndarray]] = []
    length = 0
    for index in order:
        ids, targets = examples[index]
        if pending and length + len(ids) > MAX_LEN:
            packed.append((np.concatenate([i for i, _ in pending]),
                           np.concatenate([t for _, t in pending])))
            pending, length = [], 0
        pending.append((ids, targets))
        length += len(ids)
    packed.append((np.concatenate([i for i, _ in pending]), np.concatenate([t for _, t in pending])))
    return packed


def pad(sequences: Sequence[np.ndarray], targets: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Token ids as one right-padded (B, T) array, and where the tokens to predict are."""
    longest = max(len(sequence) for sequence in sequences)
    ids = np.zeros((len(sequences), longest), dtype=np.int64)
    predicted = np.zeros((len(sequences), longest), dtype=bool)
    for row, (sequence, target) in enumerate(zip(sequences, targets)):
        ids[row, :len(sequence)] = sequence
        predicted[row, :len(sequence)] = target
    return ids, predicted


def next_token_loss(model: Module, sequences: Sequence[np.ndarray],
                    targets: Sequence[np.ndarray]) -> Tensor:
    """Mean cross-entropy of predicting the target tokens of ``sequences`` from the ones before.

    The model reads tokens 0..T-2 of each (padded) row and predicts tokens 1..T-1. Only the
    rows of the flattened logits whose next token is a target go into the loss; padding
    never is, and a causal model's outputs at real positions never depend on the padding
    after them.
    """
    ids, predicted = pad(sequences, targets)
    logits = model(ids[:, :-1])
    batch, length, vocab = logits.shape
    kept = np.flatnonzero(predicted[:, 1:].reshape(-1))
    return CrossEntropyLoss()(logits.reshape(batch * length, vocab)[kept],
                              Tensor(ids[:, 1:].reshape(-1)[kept]))


def mean_loss(model: Module, examples: Sequence[tuple[np.ndarray, np.ndarray]]) -> float:
    """The loss per predicted token on ``examples``, in evaluation mode and without a graph."""
    model.eval()
    total, tokens = 0.0, 0
    with no_grad():
        for batch in length_batches(np.array([len(ids) for ids, _ in examples]),
                                    np.random.default_rng(0)):
            ids, targets = zip(*(examples[i] for i in batch))
            count = sum(int(target[1:].sum()) for target in targets)
            total += next_token_loss(model, ids, targets).item() * count
            tokens += count
    return total / tokens


def answer(model: GPT, tokenizer: BPETokenizer, prompts: Sequence[str],
           max_answer_tokens: int) -> list[str]:
    """Greedy answers to ``prompts``: what the model writes after each, up to END_OF_ANSWER.

    ``GPT.generate`` extends prompts of equal length, so prompts are grouped by their
    number of tokens and each group is extended together, GENERATION_CHUNK tokens per call,
    until every answer of the group has ended (or reached ``max_answer_tokens``).
    """
    groups: dict[int, list[int]] = defaultdict(list)
    encoded = [tokenizer.encode(prompt) for prompt in prompts]
    for index, ids in enumerate(encoded):
        groups[len(ids)].append(index)
    answers = [""] * len(prompts)
    for length, members in groups.items():
        tokens = Tensor(np.array([encoded[i] for i in members], dtype=np.int64))
        while tokens.shape[1] - length < max_answer_tokens:
            steps = min(GENERATION_CHUNK, max_answer_tokens - (tokens.shape[1] - length))
            tokens = model.generate(tokens, steps, temperature=0.0)
            texts = [tokenizer.decode(row[length:].tolist()) for row in tokens.numpy()]
            if all(END_OF_ANSWER in text for text in texts):
                break
        for index, text in zip(members, texts):
            answers[index] = text.split(END_OF_ANSWER)[0]
    return answers


def print_dialogues(title: str, rows: Sequence[dict[str, str]]) -> None:
    print(f"\n{title}")
    for row in rows:
        mark = "right" if row["generated"] == row["expected"] else "WRONG"
        context = row["context"].rstrip("\n").replace("\n", " | ")
        if context:
            print(f"  (earlier turns: {context})")
        print(f"  Q: {row['question']}\n     expected :{row['expected']}\n"
              f"     generated:{row['generated']}   [{mark}]")


def spread(items: Sequence, count: int) -> list:
    """``count`` items taken at even intervals through ``items`` (all of them if fewer)."""
    if len(items) <= count:
        return list(items)
    return [items[i] for i in np.linspace(0, len(items) - 1, count).round().astype(int)]


def run_milestone() -> int:
    rng = np.random.default_rng(SEED)
    train_text = load_tinytalks("train")
    tokenizer = BPETokenizer.train(train_text, VOCAB_SIZE)
    train_blocks = conversations(train_text)
    validation_blocks = conversations(load_tinytalks("validation"))
    test_pairs = tinytalks_pairs("test")
    epochs, settings = EPOCHS, MODEL
    if RUN.smoke:
        train_blocks, validation_blocks = train_blocks[:SMOKE_TRAIN_BLOCKS], validation_blocks[:32]
        test_pairs = spread(test_pairs, SMOKE_TEST_PAIRS)
        epochs, settings = SMOKE_EPOCHS, SMOKE_MODEL
    train_examples = [encode_conversation(tokenizer, block) for block in train_blocks]
    validation_examples = [encode_conversation(tokenizer, block) for block in validation_blocks]
    lengths = np.array([len(ids) for ids, _ in train_examples])
    longest_answer = max(len(tokenizer.encode(pair.completion)) for pair in tinytalks_pairs("train"))
    print(f"TinyTalks: {len(train_blocks):,} training conversations ({lengths.sum():,} "
          f"tokens), a BPE vocabulary of {tokenizer.vocab_size} tokens; "
          f"{len(test_pairs):,} test questions")

    model = GPT(tokenizer.vocab_size, MAX_LEN, rng=rng, **settings)
    parameters = sum(parameter.size for parameter in model.parameters())
    optimizer = AdamW(model.parameters(), lr=LEARNING_RATE, weight_decay=WEIGHT_DECAY)
    # Every epoch's sequences are packed in advance, so the schedule knows the number of steps.
    epoch_sequences = [pack(train_examples, rng.permutation(len(train_examples)))
                       for _ in range(epochs)]
    steps_per_epoch = [-(-len(sequences) // BATCH_SIZE) for sequences in epoch_sequences]
    schedule = WarmupCosineLR(optimizer, warmup_steps=sum(steps_per_epoch[:WARMUP_EPOCHS]),
                              total_steps=sum(steps_per_epoch))
    print(f"TinyGPT: {settings['num_layers']} blocks of dimension {settings['dim']}, "
          f"{settings['num_heads']} heads, {parameters:,} parameters; {epochs} epochs of about "
          f"{steps_per_epoch[0]} batches of {BATCH_SIZE} sequences of up to {MAX_LEN} tokens")
    history: list[dict[str, float]] = []

    def train() -> None:
        for epoch in range(1, epochs + 1):
            model.train()
            total, tokens = 0.0, 0
            sequences = epoch_sequences[epoch - 1]
            for start in range(0, len(sequences), BATCH_SIZE):
                ids, targets = zip(*sequences[start:start + BATCH_SIZE])
                optimizer.zero_grad()
                loss = next_token_loss(model, ids, targets)
                loss.backward()
                clip_grad_norm(model.parameters(), MAX_GRAD_NORM)
                optimizer.step()
                schedule.step()
                count = sum(int(target[1:].sum()) for target in targets)
                total += loss.item() * count
                tokens += count
            validation_loss = mean_loss(model, validation_examples)
            history.append({"epoch": epoch, "train_loss": total / tokens,
                            "validation_loss": validation_loss, "lr": optimizer.lr})
            RUN.progress(epoch, epochs, f"loss {total / tokens:.4f}",
                         f"validation loss {validation_loss:.4f}")

    cpu_began = time.process_time()
    RUN.measure(train)
    train_cpu_seconds = time.process_time() - cpu_began
    tokens_per_second = epochs * int(lengths.sum()) / RUN.train_seconds

    print(f"\nAnswering {len(test_pairs)} test questions (greedy decoding)...", flush=True)
    began = time.perf_counter()
    generated = answer(model, tokenizer, [BLOCK_START + pair.prompt for pair in test_pairs],
                       longest_answer)
    answering_seconds = time.perf_counter() - began
    # An answer is right when the model continues the prompt ("...A:") with exactly the
    # completion: a space, the answer, the end of the line.
    rows = [{"context": pair.context, "question": pair.question,
             "expected": pair.completion.removesuffix(END_OF_ANSWER), "generated": text}
            for pair, text in zip(test_pairs, generated)]
    correct = sum(row["generated"] == row["expected"] for row in rows)
    exact_match = correct / len(rows)
    wrong = [row for row in rows if row["generated"] != row["expected"]]
    print("\nLoss per epoch (train / validation, nats per answer token):")
    print("  " + "  ".join(f"{row['epoch']}: {row['train_loss']:.3f}/{row['validation_loss']:.3f}"
                           for row in history))
    print_dialogues("Sample dialogues from the test split:",
                    spread([row for row in rows if row["context"]], SAMPLES_SHOWN // 2)
                    + spread([row for row in rows if not row["context"]], SAMPLES_SHOWN // 2))
    print_dialogues(f"Wrong answers ({len(wrong)}, up to {SAMPLES_SHOWN} shown):",
                    spread(wrong, SAMPLES_SHOWN))
    print(f"\nResults: {correct} of {len(rows)} test answers exactly right ({exact_match:.1%}); "
          f"{parameters:,} parameters; training {RUN.train_seconds:.1f} s ({train_cpu_seconds:.1f} s "
          f"of CPU, {tokens_per_second:,.0f} tokens/s), answering {answering_seconds:.1f} s")
    if RUN.train_seconds > TIME_BUDGET_SECONDS:
        print(f"Note: training took longer than the {TIME_BUDGET_SECONDS:.0f} s this milestone "
              f"budgets for one core: profile your attention and layer norm (kata 14).")
    results = {
        "seed": SEED, "epochs": epochs, "batch_size": BATCH_SIZE,
        "learning_rate": LEARNING_RATE, "weight_decay": WEIGHT_DECAY,
        "warmup_epochs": WARMUP_EPOCHS, "max_grad_norm": MAX_GRAD_NORM,
        "model": {**settings, "max_len": MAX_LEN, "vocab_size": tokenizer.vocab_size},
        "parameters": parameters, "train_conversations": len(train_blocks),
        "train_tokens": int(lengths.sum()), "test_questions": len(rows),
        "test_exact_match": exact_match, "test_correct": correct,
        "train_cpu_seconds": train_cpu_seconds, "tokens_per_second": tokens_per_second,
        "answering_seconds": answering_seconds,
        "time_budget_seconds": TIME_BUDGET_SECONDS,
        "within_time_budget": RUN.train_seconds <= TIME_BUDGET_SECONDS,
        "history": history, "answers": rows,
    }
    criteria = [common.Criterion("exact answers to the TinyTalks test questions", exact_match,
                                 REQUIRED_EXACT_MATCH)]
    curves = {name: [row[name] for row in history] for name in ("train_loss", "validation_loss")}
    return RUN.finish(results, criteria, curves)


if __name__ == "__main__":
    common.main(run_milestone)
