"""Instruction fine-tuning: tasks made from the grammar, a chat template, the masked loss, evaluation (notebook 13).

- **the data**: four tasks, each an instruction and an input sentence with one right
  response, all written by :func:`helpers.corpus.build_sentence`, so every response is
  correct English (:data:`TASKS`, :func:`instruction_example`); :func:`instruction_splits`
  keeps some task × subject-noun combinations out of training (:data:`HELD_OUT_SUBJECTS`);
- **the chat template**: three special tokens (:data:`USER`, :data:`ASSISTANT`, :data:`END`)
  added to the tokenizer (:func:`add_special_tokens`) and to the model
  (:func:`resize_token_embeddings`), and one prompt format (:func:`format_prompt`);
- **training**: :func:`response_mask_example` masks the prompt so the loss counts only
  the response; :class:`InstructionDataset` batches examples for :func:`helpers.training.train`;
- **evaluation**: greedy answers (:func:`generate_response`), exact match per task,
  a scripted judge (:func:`judge_score`), and a multiple-choice benchmark scored by
  log-likelihood (:func:`choice_log_likelihood`, :func:`multiple_choice_benchmark`).

    >>> format_prompt("Make this sentence negative.", "the cat eats the apple")
    '<|user|>Make this sentence negative.\\nthe cat eats the apple<|end|><|assistant|>'
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Sequence
from dataclasses import dataclass

import Levenshtein
import torch
from torch import Tensor, nn
from torch.utils.data import Dataset

from helpers.bpe import BPETokenizer
from helpers.corpus import (
    ANIMATE_NOUNS, BE, EAT, FOOD_NOUNS, NOUNS, PREPOSITIONS, SLEEP, TRANSITIVE_VERBS, VERBS, Adjective, Noun,
    NounPhrase, Preposition, Verb, adjectives_for, build_sentence, english_noun_phrase, english_spelling,
    find_adjective, find_noun, find_verb, objects_of,
)
from helpers.generation import generate
from helpers.model import GPT
from helpers.training import IGNORE_INDEX, pad_pairs

# ---------------------------------------------------------------------------
# The tasks
# ---------------------------------------------------------------------------

SEE, LIKE = find_verb("voit"), find_verb("aime")

#: The four tasks, each with the one instruction its examples carry.
TASKS: tuple[str, ...] = ("negate", "question", "past", "yes_no")
INSTRUCTIONS: dict[str, str] = {
    "negate": "Make this sentence negative.",
    "question": "Turn this sentence into a yes/no question.",
    "past": "Put this sentence in the past tense.",
    "yes_no": "Read the sentence, then answer the question with yes or no.",
}

#: Source sentences have at most this many words; a response has at most two more
#: (``does not``, ``does … ?``).
MAX_SOURCE_WORDS: int = 8

#: Adjective kinds whose words exclude each other (a black cat is not white, a small one
#: not big, a young one not old): "is the cat white ?" has a clear answer about a black cat.
ASKABLE_KINDS: tuple[str, ...] = ("colour", "size", "age")


def _check_task(task: str) -> None:
    if task not in TASKS:
        raise ValueError(f"unknown task {task!r}: choose one of {', '.join(repr(t) for t in TASKS)}")


@dataclass(frozen=True)
class Example:
    """One instruction example: what the user writes (instruction + input) and the right response (notebook 13).

    ``subject`` is the English subject noun of the input sentence (singular), the
    noun that :func:`instruction_splits` holds out.
    """

    task: str
    instruction: str
    input: str
    response: str
    subject: str = ""


@dataclass(frozen=True)
class SourceSentence:
    """A positive, present-tense statement kept as the grammar's parts, so each task can transform it (notebook 13).

    The same parts with other flags of :func:`~helpers.corpus.build_sentence` give
    every task's response: ``english()`` is the input, ``english(negative=True)`` the
    negation, ``english(question=True)`` the question, ``english(past=True)`` the past.
    """

    subject: NounPhrase
    verb: Verb
    obj: NounPhrase | None = None
    predicate: Adjective | None = None
    places: tuple[tuple[Preposition, NounPhrase], ...] = ()

    def __post_init__(self) -> None:
        self.english()  # build_sentence checks that the parts fit (an object for eat, ...)

    def english(self, *, negative: bool = False, question: bool = False, past: bool = False) -> str:
        """The sentence, or its negation, question or past, as the grammar writes it."""
        return build_sentence(self.subject, self.verb, obj=self.obj, places=self.places, predicate=self.predicate,
                              past=past, negative=negative, question=question).english

    @property
    def has_past(self) -> bool:
        """Whether the grammar has a past for this verb (every verb but *be*)."""
        return self.verb is not BE and bool(self.verb.en_past)

    def nouns(self) -> frozenset[str]:
        """The English nouns (singular) the sentence mentions: subject, object, places."""
        phrases = self.subject.phrases() + (self.obj.phrases() if self.obj is not None else [])
        phrases += [p for _, place in self.places for p in place.phrases()]
        return frozenset(p.noun.en for p in phrases)


def task_response(task: str, source: SourceSentence) -> str:
    """The response of ``negate``, ``question`` or ``past`` for ``source`` (notebook 13).

    ``the cat eats the apple`` -> ``the cat does not eat the apple`` /
    ``does the cat eat the apple ?`` / ``the cat ate the apple``.
    """
    _check_task(task)
    if task == "yes_no":
        raise ValueError("a yes_no response depends on its question: use yes_no_example(source, mention=...)")
    if task == "past" and not source.has_past:
        raise ValueError(f"the grammar has no past of {source.verb.en!r}: the past task needs another verb")
    return source.english(negative=task == "negate", question=task == "question", past=task == "past")


def mention_question(noun: Noun) -> str:
    """``does the sentence mention a dog ?`` (``an apple``) (notebook 13)."""
    return " ".join(english_spelling(["does", "the", "sentence", "mention", "a", noun.en, "?"]))


def _askable_alternatives(source: SourceSentence) -> tuple[Adjective, ...]:
    """The adjectives that exclude the predicate of ``source`` (white, red … for black); () if none."""
    predicate = source.predicate
    if predicate is None or predicate.kind not in ASKABLE_KINDS:
        return ()
    return tuple(a for a in adjectives_for(source.subject.noun) if a.kind == predicate.kind and a != predicate)


def adjective_question(source: SourceSentence, adjective: Adjective) -> str:
    """``is the cat white ?`` about the subject of ``the cat is black`` (notebook 13)."""
    if source.predicate is None:
        raise ValueError(f"{source.english()!r} says no adjective of its subject: ask a mention_question instead")
    return build_sentence(source.subject, BE, predicate=adjective, question=True).english


def yes_no_example(source: SourceSentence, *, mention: Noun | None = None, adjective: Adjective | None = None) -> Example:
    """A ``yes_no`` example: the sentence, then a question about it, answered ``yes`` or ``no`` (notebook 13).

    Give exactly one of ``mention`` (``does the sentence mention a dog ?``: yes when the
    noun is in the sentence, in any number) or ``adjective`` (``is the cat white ?``
    about ``the cat is black``: yes only for the sentence's own adjective; the
    adjective must be of an :data:`ASKABLE_KINDS` kind, so that a different one means no).
    """
    if (mention is None) == (adjective is None):
        raise ValueError("give exactly one of mention= (a Noun) or adjective= (an Adjective)")
    if mention is not None:
        question, yes = mention_question(mention), mention.en in source.nouns()
    else:
        if source.predicate is None or source.predicate.kind not in ASKABLE_KINDS:
            raise ValueError(f"{source.english()!r}: ask about an adjective only in a sentence 'X is <adjective>' "
                             f"whose adjective is of a kind in {ASKABLE_KINDS}")
        if adjective.kind != source.predicate.kind:
            raise ValueError(f"{adjective.en!r} is a {adjective.kind}, {source.predicate.en!r} a "
                             f"{source.predicate.kind}: the answer would not follow from the sentence")
        question, yes = adjective_question(source, adjective), adjective == source.predicate
    return Example("yes_no", INSTRUCTIONS["yes_no"], f"{source.english()}\n{question}", "yes" if yes else "no",
                   source.subject.noun.en)


def instruction_example(task: str, source: SourceSentence, rng: random.Random | None = None, *,
                        answer: bool | None = None) -> Example:
    """The example of ``task`` for ``source`` (notebook 13).

    For ``yes_no``, ``rng`` picks the question (about the predicate's adjective when the
    sentence has an askable one, half the time; else whether it mentions a noun) and,
    unless ``answer`` fixes it, whether the answer is yes.

        >>> instruction_example("negate", source).response  # doctest: +SKIP
        'the cat does not eat the apple'
    """
    _check_task(task)
    if task != "yes_no":
        return Example(task, INSTRUCTIONS[task], source.english(), task_response(task, source), source.subject.noun.en)
    if rng is None:
        raise ValueError("a yes_no example draws its question: pass rng=random.Random(seed)")
    yes = rng.random() < 0.5 if answer is None else answer
    alternatives = _askable_alternatives(source)
    if alternatives and rng.random() < 0.5:
        return yes_no_example(source, adjective=source.predicate if yes else rng.choice(alternatives))
    named = sorted(source.nouns())
    others = [noun.en for noun in NOUNS if noun.en not in named]
    return yes_no_example(source, mention=_english_noun(rng.choice(named if yes else others)))


def _english_noun(english: str) -> Noun:
    return next(noun for noun in NOUNS if noun.en == english)


# ---------------------------------------------------------------------------
# Random source sentences
# ---------------------------------------------------------------------------

#: The sentence patterns: ``what`` (the cat is black), ``where`` (the cat is under the
#: table), ``sleeps`` (the cat sleeps [on the bed]), ``does`` (the cat eats the apple).
PATTERNS: tuple[str, ...] = ("what", "where", "sleeps", "does")


def _patterns_for(noun: Noun) -> tuple[str, ...]:
    """People and animals do things; food and things only are."""
    return PATTERNS if noun in ANIMATE_NOUNS else ("what", "where")


def _phrase(rng: random.Random, noun: Noun, kinds: Sequence[str] | None = None, p_adjective: float = 0.3) -> NounPhrase:
    """A determiner, ``noun`` (singular or plural) and at most one adjective (of ``kinds``, if given)."""
    plural = rng.random() < 0.35
    determiner = rng.choice(("the", "the", "this") if plural else ("the", "the", "a", "this"))
    allowed = [adj for adj in adjectives_for(noun) if kinds is None or adj.kind in kinds]
    adjective = rng.choice(allowed) if allowed and rng.random() < p_adjective else None
    before = adjective if adjective is not None and adjective.before else None
    after = adjective if adjective is not None and not adjective.before else None
    return NounPhrase(noun, plural, determiner, before, after)


def _place(rng: random.Random, subject: Noun) -> tuple[Preposition, NounPhrase]:
    preposition = rng.choice(PREPOSITIONS)
    nouns = [noun for noun in objects_of(preposition) if noun != subject]
    return preposition, _phrase(rng, rng.choice(nouns), p_adjective=0.2)


def _draw_source(rng: random.Random, subject: Noun, pattern: str, askable: bool) -> SourceSentence:
    if pattern == "what":
        adjectives = adjectives_for(subject)
        if askable:  # a predicate with at least one adjective that excludes it
            adjectives = tuple(a for a in adjectives if a.kind in ASKABLE_KINDS
                               and sum(b.kind == a.kind for b in adjectives) >= 2)
        predicate = rng.choice(adjectives)
        other_kinds = [k for k in {a.kind for a in adjectives_for(subject)} if k != predicate.kind]
        return SourceSentence(_phrase(rng, subject, sorted(other_kinds)), BE, predicate=predicate)
    if pattern == "where":
        return SourceSentence(_phrase(rng, subject), BE, places=(_place(rng, subject),))
    if pattern == "sleeps":
        places = (_place(rng, subject),) if rng.random() < 0.5 else ()
        return SourceSentence(_phrase(rng, subject), SLEEP, places=places)
    verb = rng.choice(TRANSITIVE_VERBS)
    objects = [noun for noun in (FOOD_NOUNS if verb is EAT else NOUNS) if noun != subject]
    return SourceSentence(_phrase(rng, subject), verb, obj=_phrase(rng, rng.choice(objects), p_adjective=0.25))


def random_source_sentence(rng: random.Random, subject: Noun, patterns: Sequence[str] | None = None, *,
                           askable: bool = False) -> SourceSentence:
    """A random positive, present-tense sentence about ``subject`` of at most :data:`MAX_SOURCE_WORDS` words (notebook 13).

    ``patterns`` (default: all that fit the noun) are drawn from :data:`PATTERNS`; only
    people and animals sleep and do things. With ``askable``, a ``what`` sentence has
    an adjective of :data:`ASKABLE_KINDS` (for :func:`adjective_question`).
    """
    allowed = _patterns_for(subject)
    patterns = tuple(allowed if patterns is None else patterns)
    wrong = [p for p in patterns if p not in allowed]
    if wrong or not patterns:
        raise ValueError(f"pattern(s) {wrong or patterns} do not fit the subject {subject.en!r}: "
                         f"choose among {allowed}")
    for _ in range(1000):
        source = _draw_source(rng, subject, rng.choice(patterns), askable)
        if len(source.english().split()) <= MAX_SOURCE_WORDS:
            return source
    raise RuntimeError(f"no sentence of at most {MAX_SOURCE_WORDS} words found for {subject.en!r}")


# ---------------------------------------------------------------------------
# Splits: some task × subject combinations never seen in training
# ---------------------------------------------------------------------------

#: For each task, the subject nouns (English) its training examples never have.
#: Each of them is the subject of the OTHER tasks' training examples, so the test
#: ``test_unseen_combinations`` asks: does a task learned on some nouns carry over to a
#: noun learned with other tasks? (They are people and animals: every task fits them.)
HELD_OUT_SUBJECTS: dict[str, tuple[str, ...]] = {
    "negate": ("horse", "queen"),
    "question": ("bird", "man"),
    "past": ("lion", "girl"),
    "yes_no": ("mouse", "father"),
}

#: The names of the splits :func:`instruction_splits` returns.
INSTRUCTION_SPLITS: tuple[str, ...] = ("train", "test_seen", "test_unseen_combinations")


def subjects_for(task: str, held_out: bool = False) -> tuple[Noun, ...]:
    """The subject nouns of ``task``'s training examples, or with ``held_out`` the ones they never have (notebook 13)."""
    _check_task(task)
    fitting = ANIMATE_NOUNS if task == "past" else NOUNS  # food and things only "are": no past
    kept_out = HELD_OUT_SUBJECTS[task]
    return tuple(noun for noun in fitting if (noun.en in kept_out) == held_out)


def _random_example(rng: random.Random, task: str, subject: Noun, answer: bool) -> Example:
    if task == "past":
        return instruction_example(task, random_source_sentence(rng, subject, ("sleeps", "does", "does")))
    if task != "yes_no":
        return instruction_example(task, random_source_sentence(rng, subject))
    if rng.random() < 0.5:  # half the questions about an adjective, half about a mention
        source = random_source_sentence(rng, subject, ("what",), askable=True)
        return yes_no_example(source, adjective=source.predicate if answer else rng.choice(_askable_alternatives(source)))
    source = random_source_sentence(rng, subject)
    named = sorted(source.nouns())
    others = [noun.en for noun in NOUNS if noun.en not in named]
    return yes_no_example(source, mention=_english_noun(rng.choice(named if answer else others)))


def _draw_split(rng: random.Random, n: int, held_out: bool, taken: set[tuple[str, str]], name: str) -> list[Example]:
    examples: list[Example] = []
    for i in range(n):
        task = TASKS[i % len(TASKS)]  # the tasks in turn: every task n // 4 times (+1)
        answer = sum(e.task == "yes_no" for e in examples) % 2 == 0  # yes, no, yes, ...: balanced
        for _ in range(1000):
            example = _random_example(rng, task, rng.choice(subjects_for(task, held_out)), answer)
            if (task, example.input) not in taken:
                break
        else:
            raise ValueError(f"could not find {n} different {name} examples; ask for fewer")
        taken.add((task, example.input))
        examples.append(example)
    return examples


def instruction_splits(n_train: int = 2000, n_test: int = 200, seed: int = 0) -> dict[str, list[Example]]:
    """The instruction data: ``train``, ``test_seen`` and ``test_unseen_combinations`` (notebook 13).

    - ``train`` (``n_train`` examples): each task with every subject noun that fits it
      except its :data:`HELD_OUT_SUBJECTS`;
    - ``test_seen`` (``n_test``): new inputs, with task × subject combinations of training;
    - ``test_unseen_combinations`` (``n_test``): each task with its held-out subjects only.
      Those nouns are subjects in training, of the other tasks (and may appear there as
      objects or places of any task): only the combination is new.

    The tasks take turns (each has a quarter of every split); ``yes_no`` answers
    alternate yes, no, yes …; no (task, input) is in two splits or twice in one.
    """
    for name, n in (("n_train", n_train), ("n_test", n_test)):
        if isinstance(n, bool) or not isinstance(n, int) or n < 0:
            raise ValueError(f"{name} must be a whole number >= 0, got {n!r}")
    rng = random.Random(seed)
    taken: set[tuple[str, str]] = set()
    return {
        "train": _draw_split(rng, n_train, False, taken, "train"),
        "test_seen": _draw_split(rng, n_test, False, taken, "test_seen"),
        "test_unseen_combinations": _draw_split(rng, n_test, True, taken, "test_unseen_combinations"),
    }


# ---------------------------------------------------------------------------
# Special tokens and the chat template
# ---------------------------------------------------------------------------

#: The chat template's special tokens: the user's turn starts with USER, the
#: assistant's with ASSISTANT, and each turn ends with END.
USER, ASSISTANT, END = "<|user|>", "<|assistant|>", "<|end|>"
CHAT_TOKENS: tuple[str, ...] = (USER, ASSISTANT, END)


def add_special_tokens(tokenizer: BPETokenizer, names: Sequence[str]) -> BPETokenizer:
    """A copy of ``tokenizer`` with the special tokens ``names``, given the ids after its vocabulary (notebook 13).

    ``tokenizer`` is left as it is. Ordinary text encodes to the same ids as before;
    a new token is one id when ``encode(text, allowed_special=...)`` allows it.

        >>> add_special_tokens(tokenizer, CHAT_TOKENS).special_tokens  # doctest: +SKIP
        {'<|endoftext|>': 4095, '<|user|>': 4096, '<|assistant|>': 4097, '<|end|>': 4098}
    """
    if isinstance(names, str):
        raise TypeError(f"names must be a list of token names, got the string {names!r}; write [{names!r}]")
    names = list(names)
    if not names:
        raise ValueError("names is empty: give at least one special token to add")
    for name in names:
        if not isinstance(name, str) or not name:
            raise ValueError(f"a special token is a non-empty string, got {name!r}")
        if name in tokenizer.special_tokens:
            raise ValueError(f"{name!r} is already a special token of this tokenizer "
                             f"(id {tokenizer.special_tokens[name]})")
        if names.count(name) > 1:
            raise ValueError(f"{name!r} is listed {names.count(name)} times in names")
    first_id = max(tokenizer.vocab) + 1
    special_tokens = {**tokenizer.special_tokens, **{name: first_id + i for i, name in enumerate(names)}}
    return BPETokenizer(tokenizer.merges, special_tokens, tokenizer.byte_ids, tokenizer.pattern)


def resize_token_embeddings(model: GPT, new_vocab_size: int) -> GPT:
    """Grow ``model``'s vocabulary to ``new_vocab_size`` ids, in place, and return it (notebook 13).

    The old rows of the token embedding (and of the output head) are kept exactly, so
    a text without new tokens gets the same logits for the old tokens as before. The
    new rows start as the MEAN of the old rows: a new token starts as an average word.
    As an input it is an ordinary vector, where the model's layers know what to do,
    not a random one they have never seen; as an output its logit ``h · mean`` is the
    average of the old tokens' logits, so the model neither predicts it everywhere
    nor can never learn to (Hewitt, 2021). A tied model stays tied: the head is the
    new embedding matrix. Resize before making the optimizer (its parameters change).
    """
    old_vocab_size, d_model = model.tok_emb.weight.shape
    if isinstance(new_vocab_size, bool) or not isinstance(new_vocab_size, int) or new_vocab_size < old_vocab_size:
        raise ValueError(f"new_vocab_size must be a whole number >= the model's vocab_size={old_vocab_size}, "
                         f"got {new_vocab_size!r} (shrinking would drop tokens the model knows)")
    if new_vocab_size == old_vocab_size:
        return model
    n_new = new_vocab_size - old_vocab_size
    old = model.tok_emb.weight
    tied = model.out_head.weight is old
    embedding = nn.Embedding(new_vocab_size, d_model, device=old.device, dtype=old.dtype)
    with torch.no_grad():
        embedding.weight.copy_(torch.cat([old, old.mean(dim=0, keepdim=True).expand(n_new, d_model)]))
    embedding.weight.requires_grad_(old.requires_grad)
    model.tok_emb = embedding
    if tied:
        model.out_head = nn.Linear(d_model, new_vocab_size, bias=False, device=old.device, dtype=old.dtype)
        model.out_head.weight = model.tok_emb.weight  # one matrix, used at both ends
    else:
        head = model.out_head.weight
        model.out_head = nn.Linear(d_model, new_vocab_size, bias=False, device=head.device, dtype=head.dtype)
        with torch.no_grad():
            model.out_head.weight.copy_(torch.cat([head, head.mean(dim=0, keepdim=True).expand(n_new, d_model)]))
        model.out_head.weight.requires_grad_(head.requires_grad)
    model.config = dataclasses.replace(model.config, vocab_size=new_vocab_size)
    return model


def add_chat_tokens(model: GPT, tokenizer: BPETokenizer) -> tuple[GPT, BPETokenizer]:
    """:data:`CHAT_TOKENS` added to the tokenizer (a copy) and to the model (in place) (notebook 13)."""
    chat_tokenizer = add_special_tokens(tokenizer, CHAT_TOKENS)
    return resize_token_embeddings(model, max(chat_tokenizer.vocab) + 1), chat_tokenizer


def _check_text(name: str, text: str) -> None:
    if not isinstance(text, str):
        raise TypeError(f"{name} must be a str, got {type(text).__name__}")
    inside = [token for token in CHAT_TOKENS if token in text]
    if inside:
        raise ValueError(f"{name} contains the chat token {inside[0]!r}: a user's text must not end their "
                         "turn or write the assistant's")


def format_prompt(instruction: str, input: str) -> str:
    """The user's turn, then the start of the assistant's: what the model continues (exercise 13.1).

    ``<|user|>{instruction}\\n{input}<|end|><|assistant|>``: the instruction and the input
    on their own lines (the newline is there even when the input is empty), END closing
    the user's turn, ASSISTANT opening the model's. The response follows directly and
    ends with END (:func:`format_example`).
    """
    _check_text("instruction", instruction)
    _check_text("input", input)
    return f"{USER}{instruction}\n{input}{END}{ASSISTANT}"


def format_example(example: Example) -> str:
    """A whole training text: the prompt, the response, END (notebook 13)."""
    _check_text("response", example.response)
    return format_prompt(example.instruction, example.input) + example.response + END


def chat_token_ids(tokenizer: BPETokenizer) -> dict[str, int]:
    """The ids of :data:`CHAT_TOKENS` in ``tokenizer``, or a clear error if it lacks them (notebook 13)."""
    missing = [token for token in CHAT_TOKENS if token not in tokenizer.special_tokens]
    if missing:
        raise ValueError(f"the tokenizer has no special token {missing[0]!r}: use "
                         "add_special_tokens(tokenizer, CHAT_TOKENS) (or add_chat_tokens(model, tokenizer))")
    return {token: tokenizer.special_tokens[token] for token in CHAT_TOKENS}


def encode_prompt(tokenizer: BPETokenizer, instruction: str, input: str) -> list[int]:
    """The ids of :func:`format_prompt`: each chat token one id, the text as usual (notebook 13)."""
    chat_token_ids(tokenizer)
    return tokenizer.encode(format_prompt(instruction, input), allowed_special=set(CHAT_TOKENS))


# ---------------------------------------------------------------------------
# Training: the loss counts only the response
# ---------------------------------------------------------------------------


def response_mask_example(prompt_ids: Sequence[int], response_ids: Sequence[int], end_id: int,
                          context_length: int | None = None) -> tuple[Tensor, Tensor]:
    """``prompt response <end>`` as (inputs, targets), the prompt's targets masked (exercise 13.2).

    ``inputs`` is the sequence without its last token, ``targets`` without its first.
    The first ``len(prompt_ids) - 1`` targets are prompt tokens: given, not predicted,
    so they become :data:`~helpers.training.IGNORE_INDEX`. The target at the prompt's
    last position (``<|assistant|>``) is the first response token, and the last
    target is ``end_id``: the model learns to answer, and to stop.

        >>> response_mask_example([1, 2, 3], [7, 8], end_id=9)
        (tensor([1, 2, 3, 7, 8]), tensor([-100, -100,    7,    8,    9]))
    """
    prompt, response = [int(i) for i in prompt_ids], [int(i) for i in response_ids]
    if not prompt:
        raise ValueError("prompt_ids is empty: the first response token needs at least one token before it")
    length = len(prompt) + len(response)  # inputs: everything but the final end token
    if context_length is not None and length > context_length:
        raise ValueError(f"the example has {length} input tokens (prompt {len(prompt)} + response "
                         f"{len(response)}), more than context_length={context_length}")
    ids = torch.tensor(prompt + response + [int(end_id)])
    inputs, targets = ids[:-1], ids[1:].clone()  # clone: masking the targets must not change the inputs
    targets[: len(prompt) - 1] = IGNORE_INDEX
    return inputs, targets


class InstructionDataset(Dataset):
    """Examples as masked (inputs, targets) sequences; :meth:`collate` right-pads a batch (notebook 13).

    ``make_loader(dataset, 16, collate_fn=dataset.collate)`` feeds
    :func:`helpers.training.train` and its default loss. ``pad_id`` (default: END's
    id) fills the inputs after a sequence ends; any id works, since causal attention
    never lets a real token see what comes after it, and padded targets are ignored.
    """

    def __init__(self, examples: Sequence[Example], tokenizer: BPETokenizer, context_length: int,
                 pad_id: int | None = None):
        self.end_id = chat_token_ids(tokenizer)[END]
        self.pad_id = self.end_id if pad_id is None else pad_id
        if self.pad_id not in tokenizer.vocab:
            raise ValueError(f"pad_id {self.pad_id!r} is not a token id of the tokenizer (0..{max(tokenizer.vocab)})")
        self.examples = list(examples)
        if not self.examples:
            raise ValueError("no examples: an InstructionDataset needs at least one")
        self.items: list[tuple[Tensor, Tensor]] = []
        for i, example in enumerate(self.examples):
            prompt_ids = encode_prompt(tokenizer, example.instruction, example.input)
            try:
                self.items.append(response_mask_example(prompt_ids, tokenizer.encode(example.response),
                                                        self.end_id, context_length))
            except ValueError as error:
                raise ValueError(f"example {i} ({example.task}: {example.input!r}): {error}") from None

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int) -> tuple[Tensor, Tensor]:
        return self.items[i]

    def collate(self, batch: Sequence[tuple[Tensor, Tensor]]) -> tuple[Tensor, Tensor]:
        """(inputs, targets), each (B, longest): inputs padded with ``pad_id``, targets with IGNORE_INDEX."""
        return pad_pairs(batch, self.pad_id)

    @property
    def longest(self) -> int:
        """The length of the longest (inputs) sequence: the context a model needs."""
        return max(len(inputs) for inputs, _ in self.items)


# ---------------------------------------------------------------------------
# Answering: greedy decoding until END
# ---------------------------------------------------------------------------


def _end_id_for(model: GPT, tokenizer: BPETokenizer) -> int:
    end_id = chat_token_ids(tokenizer)[END]
    if end_id >= model.config.vocab_size:
        raise ValueError(f"the model's vocabulary has {model.config.vocab_size} ids, none for {END!r} (id {end_id}): "
                         "call resize_token_embeddings(model, max(tokenizer.vocab) + 1) first")
    return end_id


@torch.no_grad()
def generate_responses(model: GPT, tokenizer: BPETokenizer, examples: Sequence[Example],
                       max_new_tokens: int = 24, batch_size: int = 64) -> list[str]:
    """Each example's response, decoded greedily from its prompt until END, stripped (notebook 13).

    Prompts of the same number of tokens are decoded together, in batches of up to
    ``batch_size``, by :func:`helpers.generation.generate` (``temperature=0``,
    ``eos_id`` = END, KV cache). A response that has not ended after
    ``max_new_tokens`` tokens (or at the context length) is cut there.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be 1 or more, got {batch_size}")
    end_id = _end_id_for(model, tokenizer)
    context_length = model.config.context_length
    device = next(model.parameters()).device
    prompts = [encode_prompt(tokenizer, e.instruction, e.input) for e in examples]
    by_length: dict[int, list[int]] = {}
    for i, prompt in enumerate(prompts):
        if len(prompt) >= context_length:
            raise ValueError(f"example {i}: the prompt has {len(prompt)} tokens, the model reads at most "
                             f"{context_length}: no room for a response")
        by_length.setdefault(len(prompt), []).append(i)
    responses = [""] * len(prompts)
    for length, indices in by_length.items():
        for start in range(0, len(indices), batch_size):
            chunk = indices[start : start + batch_size]
            token_ids = torch.tensor([prompts[i] for i in chunk], device=device)  # (B, length)
            out = generate(model, token_ids, min(max_new_tokens, context_length - length), eos_id=end_id)
            for row, i in enumerate(chunk):
                new = out[row, length:].tolist()
                new = new[: new.index(end_id)] if end_id in new else new
                responses[i] = tokenizer.decode(new).strip()
    return responses


def generate_response(model: GPT, tokenizer: BPETokenizer, instruction: str, input: str,
                      max_new_tokens: int = 24) -> str:
    """The model's answer to one instruction: greedy decoding from the prompt until END, stripped (notebook 13)."""
    return generate_responses(model, tokenizer, [Example("", instruction, input, "")], max_new_tokens)[0]


# ---------------------------------------------------------------------------
# Evaluation: exact match, a scripted judge
# ---------------------------------------------------------------------------


def _check_responses(examples: Sequence[Example], responses: Sequence[str]) -> None:
    if len(examples) != len(responses) or not examples:
        raise ValueError(f"need one response per example (and some examples): "
                         f"{len(examples)} examples, {len(responses)} responses")


def _by_task(examples: Sequence[Example], values: Sequence[float]) -> dict[str, float]:
    scores: dict[str, list[float]] = {}
    for example, value in zip(examples, values):
        _check_task(example.task)
        scores.setdefault(example.task, []).append(value)
    return {task: sum(scores[task]) / len(scores[task]) for task in TASKS if task in scores}


def exact_match_by_task(examples: Sequence[Example], responses: Sequence[str]) -> dict[str, float]:
    """For each task present, the fraction of responses with exactly the reference's words (notebook 13)."""
    _check_responses(examples, responses)
    return _by_task(examples, [float(r.split() == e.response.split()) for e, r in zip(examples, responses)])


#: The past-tense verbs of the lexicon: a ``past`` response has one.
PAST_FORMS: frozenset[str] = frozenset(verb.en_past for verb in VERBS if verb.en_past)
_AUXILIARIES = frozenset({"do", "does", "did", "is", "are"})


def _has_form(task: str, words: list[str]) -> bool:
    """Whether a response has the shape its task asks for (the form points of :func:`judge_score`)."""
    if task == "negate":
        return "not" in words
    if task == "question":
        return words[0] in _AUXILIARIES and words[-1] == "?"
    if task == "past":
        return bool(PAST_FORMS & set(words)) and "?" not in words
    return words[0] in ("yes", "no")


def judge_score(example: Example, response: str) -> int:
    """A scripted judge: how good ``response`` is as an answer to ``example``, from 0 to 100 (notebook 13).

    The rubric:

    - a response with the reference's words (white space aside) scores **100**;
    - for ``yes_no``, an answer is right or wrong: a response whose first word is not
      the reference's answer scores **0**;
    - otherwise the score adds three parts:

      - **form, 40 points**: the response has the shape its task asks for —
        ``negate``: the word ``not``; ``question``: starts with do/does/did/is/are and
        ends with ``?``; ``past``: a past-tense verb of the lexicon (:data:`PAST_FORMS`)
        and no ``?``; ``yes_no``: starts with the right answer;
      - **content, up to 40 points**: ``40 × (1 − d / n)`` rounded down, where ``d`` is
        the edit distance between the response's and the reference's lists of words
        (``Levenshtein.distance`` on words) and ``n`` the longer list's length; below 40
        as soon as one word differs, so only an exact match reaches 100;
      - **stop, 20 points**: the response ends with the reference's last word and has no
        more words than the reference: the model stopped where the answer ends, neither
        cut short nor running on.

    An empty response scores 0. A scripted judge is cheap and repeatable, and like any
    judge it has blind spots: a response with one wrong noun (``the dog does not eat the
    apple`` for ``the cat …``) still earns 94, which is why exact match is reported beside it.
    """
    _check_task(example.task)
    if not isinstance(response, str):
        raise TypeError(f"response must be a str, got {type(response).__name__}")
    words, reference = response.split(), example.response.split()
    if words == reference:
        return 100
    if not words or (example.task == "yes_no" and words[0] != reference[0]):
        return 0
    form = 40 if _has_form(example.task, words) else 0
    content = 40 * (max(len(words), len(reference)) - Levenshtein.distance(words, reference)) \
        // max(len(words), len(reference))
    stop = 20 if words[-1] == reference[-1] and len(words) <= len(reference) else 0
    return form + content + stop


def judge_by_task(examples: Sequence[Example], responses: Sequence[str]) -> dict[str, float]:
    """For each task present, the mean :func:`judge_score` of the responses (notebook 13)."""
    _check_responses(examples, responses)
    return _by_task(examples, [judge_score(e, r) for e, r in zip(examples, responses)])


# ---------------------------------------------------------------------------
# Multiple choice, scored by log-likelihood
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Question:
    """A multiple-choice question: a prompt, its possible continuations, the right one's index (notebook 13).

    A choice continues the prompt after a space: ``"the plural of mouse is"`` +
    ``" mice"``.
    """

    kind: str
    prompt: str
    choices: tuple[str, ...]
    answer: int

    def __post_init__(self) -> None:
        if not self.prompt:
            raise ValueError("a question needs a prompt")
        if len(self.choices) < 2 or any(not c for c in self.choices) or len(set(self.choices)) != len(self.choices):
            raise ValueError(f"a question needs at least two different, non-empty choices, got {self.choices!r}")
        if not 0 <= self.answer < len(self.choices):
            raise ValueError(f"answer must be a choice's index, 0..{len(self.choices) - 1}, got {self.answer!r}")


@torch.no_grad()
def choice_log_likelihood(model: nn.Module, prompt_ids: Sequence[int], choice_ids: Sequence[int]) -> float:
    """``log p(choice | prompt)``: the sum over the choice's tokens of log p(token | everything before it) (exercise 13.3).

    One forward pass on ``prompt + choice``: the logits at position ``t`` predict the
    token at ``t + 1``, so the choice's tokens, at positions ``len(prompt)`` …
    ``len(prompt) + len(choice) - 1``, are read from the logits at positions
    ``len(prompt) - 1`` … ``len(prompt) + len(choice) - 2``. The prompt's own tokens
    do not count. The model runs in eval mode and is put back in its mode.
    """
    prompt, choice = [int(i) for i in prompt_ids], [int(i) for i in choice_ids]
    if not prompt:
        raise ValueError("prompt_ids is empty: the first choice token needs at least one token before it")
    if not choice:
        raise ValueError("choice_ids is empty: an empty choice has nothing to score")
    context_length = getattr(getattr(model, "config", None), "context_length", None)
    if context_length is not None and len(prompt) + len(choice) > context_length:
        raise ValueError(f"prompt ({len(prompt)} tokens) + choice ({len(choice)}) is longer than the "
                         f"model's context length {context_length}")
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    ids = torch.tensor([prompt + choice], device=device)  # (1, P + C)
    try:
        logits = model(ids)[0]  # (P + C, V)
    finally:
        model.train(was_training)
    P, C = len(prompt), len(choice)
    log_probs = torch.log_softmax(logits[P - 1 : P + C - 1].float(), dim=-1)  # (C, V): row j predicts choice[j]
    return float(log_probs.gather(1, ids[0, P:].unsqueeze(1)).sum())


def question_log_likelihoods(model: nn.Module, tokenizer: BPETokenizer, question: Question,
                             per_token: bool = False) -> list[float]:
    """The log-likelihood of each choice of ``question`` after its prompt (divided by its tokens with ``per_token``) (notebook 13).

    The sum favours short choices (every token costs probability); ``per_token``
    compares the average log-probability of a token instead.
    """
    prompt_ids = tokenizer.encode(question.prompt)
    scores = []
    for choice in question.choices:
        choice_ids = tokenizer.encode(" " + choice)
        score = choice_log_likelihood(model, prompt_ids, choice_ids)
        scores.append(score / len(choice_ids) if per_token else score)
    return scores


def multiple_choice_predictions(model: nn.Module, tokenizer: BPETokenizer, questions: Sequence[Question],
                                per_token: bool = False) -> list[int]:
    """For each question, the index of the choice with the highest log-likelihood (notebook 13)."""
    predictions = []
    for question in questions:
        scores = question_log_likelihoods(model, tokenizer, question, per_token)
        predictions.append(max(range(len(scores)), key=scores.__getitem__))
    return predictions


def score_multiple_choice(model: nn.Module, tokenizer: BPETokenizer, questions: Sequence[Question],
                          per_token: bool = False) -> float:
    """Accuracy on ``questions``: the fraction whose most likely choice is the answer (notebook 13).

    Chance is ``1 / 4`` on :func:`multiple_choice_benchmark`.
    """
    if not questions:
        raise ValueError("no questions to score")
    predictions = multiple_choice_predictions(model, tokenizer, questions, per_token)
    return sum(p == q.answer for p, q in zip(predictions, questions)) / len(questions)


# -- the benchmark -------------------------------------------------------------


def _words(phrase: NounPhrase) -> str:
    return " ".join(english_spelling(english_noun_phrase(phrase)))


def _plural_questions() -> list[tuple[str, str, str, list[str]]]:
    """``the plural of mouse is`` -> mice; the wrong ones by rules a learner might guess (+s, +en, +es, +i)."""
    questions = []
    for english in ("mouse", "man", "woman", "lioness", "box", "horse", "cat", "king", "bird", "house", "boy",
                    "newspaper"):
        noun = _english_noun(english)
        stem = english.removesuffix("e")
        guesses = [english + "s", stem + "es", stem + "en", stem + "i", english]
        wrong = [g for g in dict.fromkeys(guesses) if g != noun.en_plural][:3]
        questions.append(("plural", f"the plural of {english} is", noun.en_plural, wrong))
    return questions


def _ing(verb: Verb) -> str:
    base = verb.en_plural
    return (base[:-1] if base.endswith("e") and not base.endswith("ee") else base) + "ing"


def _past_questions() -> list[tuple[str, str, str, list[str]]]:
    """``yesterday the cat`` -> ate, not eated / eats / eating."""
    subjects = [("chat", False), ("roi", False), ("souris", False), ("fille", False),
                ("chien", True), ("homme", True), ("oiseau", True), ("femme", True)]
    verbs = [v for v in VERBS if v.en_past]
    questions = []
    for i, (french, plural) in enumerate(subjects):
        verb = verbs[i % len(verbs)]
        subject = NounPhrase(find_noun(french), plural, "the")
        base = verb.en_plural
        regular = base + ("d" if base.endswith("e") else "ed")
        guesses = [regular, verb.en_plural if plural else verb.en, _ing(verb), base.removesuffix("e") + "en",
                   verb.en if plural else base]
        wrong = list(dict.fromkeys(g for g in guesses if g != verb.en_past))[:3]
        questions.append(("past", f"yesterday {_words(subject)}", verb.en_past, wrong))
    return questions


def _article_questions() -> list[tuple[str, str, str, list[str]]]:
    """``the cat eats`` -> an apple, not a apple; ``a big apple``, not an big apple: the next word decides."""
    cases = [("chat", EAT, "pomme", None), ("garçon", SEE, "homme", "vieux"), ("fille", LIKE, "cheval", "vieux"),
             ("chien", EAT, "pomme", "grand"), ("roi", SEE, "chat", None), ("reine", LIKE, "boîte", "rouge"),
             ("souris", SEE, "maison", "vieux"), ("homme", EAT, "gâteau", "petit")]
    questions = []
    for subject, verb, french, adjective in cases:
        noun = find_noun(french)
        adj = find_adjective(adjective) if adjective else None
        right = _words(NounPhrase(noun, False, "a", before=adj if adj and adj.before else None,
                                  after=adj if adj and not adj.before else None))
        article, rest = right.split(" ", 1)
        other = "a" if article == "an" else "an"
        plural_rest = " ".join(rest.split()[:-1] + [noun.en_plural])
        wrong = [f"{other} {rest}", f"{article} {plural_rest}", f"{other} {plural_rest}"]
        prompt = f"{_words(NounPhrase(find_noun(subject), False, 'the'))} {verb.en}"
        questions.append(("article", prompt, right, wrong))
    return questions


def _adjective_order_questions() -> list[tuple[str, str, str, list[str]]]:
    """``the boy sees the`` -> small black cat: size, age and beauty before colour (French: petit chat noir)."""
    cases = [("chien", "grand", "noir"), ("chat", "petit", "blanc"), ("voiture", "vieux", "rouge"),
             ("cheval", "beau", "gris"), ("oiseau", "petit", "bleu"), ("maison", "grand", "vert"),
             ("bateau", "vieux", "blanc"), ("souris", "jeune", "gris")]
    questions = []
    for i, (french, before, after) in enumerate(cases):
        noun, first, colour = find_noun(french), find_adjective(before), find_adjective(after)
        right = " ".join(english_noun_phrase(NounPhrase(noun, False, "the", first, colour))[1:])
        wrong = [f"{colour.en} {first.en} {noun.en}", f"{first.en} {noun.en} {colour.en}",
                 f"{noun.en} {first.en} {colour.en}"]
        subject = ("garçon", "fille", "roi", "reine")[i % 4]
        prompt = f"{_words(NounPhrase(find_noun(subject), False, 'the'))} {SEE.en} the"
        questions.append(("adjective_order", prompt, right, wrong))
    return questions


def _agreement_questions() -> list[tuple[str, str, str, list[str]]]:
    """``the mice`` -> are white, not is white: the verb agrees with its subject, irregular plurals too."""
    cases = [("chat", False, "noir"), ("souris", True, "blanc"), ("homme", False, "heureux"), ("femme", True, "fatigué"),
             ("cheval", False, "gris"), ("boîte", True, "rouge"), ("fille", False, "jeune"), ("homme", True, "malade")]
    questions = []
    for french, plural, adjective in cases:
        subject, predicate = NounPhrase(find_noun(french), plural, "the"), find_adjective(adjective)
        sentence = build_sentence(subject, BE, predicate=predicate).english
        right = sentence.removeprefix(_words(subject) + " ")
        wrong = [f"{be} {predicate.en}" for be in ("is", "are", "be", "am") if f"{be} {predicate.en}" != right][:3]
        questions.append(("agreement", _words(subject), right, wrong))
    return questions


def _negation_questions() -> list[tuple[str, str, str, list[str]]]:
    """``the cat`` -> does not sleep, not sleeps not (French: ne dort pas): English negation needs do."""
    cases = [("chat", False, SLEEP, None), ("chien", True, SLEEP, None), ("roi", False, EAT, "pomme"),
             ("fille", True, EAT, "gâteau"), ("souris", False, SEE, "chien"), ("homme", True, SEE, "lit"),
             ("reine", False, LIKE, "oiseau"), ("cheval", True, LIKE, "pomme")]
    questions = []
    for french, plural, verb, obj in cases:
        subject = NounPhrase(find_noun(french), plural, "the")
        obj_phrase = NounPhrase(find_noun(obj), False, "the") if obj else None
        sentence = build_sentence(subject, verb, obj=obj_phrase, negative=True).english
        right = sentence.removeprefix(_words(subject) + " ")
        tail = f" {_words(obj_phrase)}" if obj_phrase else ""
        present = verb.en_plural if plural else verb.en
        other_do = "does" if plural else "do"
        wrong = [f"{other_do} not {verb.en_plural}{tail}", f"not {present}{tail}", f"{present} not{tail}"]
        questions.append(("negation", _words(subject), right, wrong))
    return questions


#: The kinds of question in :func:`multiple_choice_benchmark`, in its order.
BENCHMARK_KINDS: tuple[str, ...] = ("plural", "past", "article", "adjective_order", "agreement", "negation")


def multiple_choice_benchmark(seed: int = 13) -> list[Question]:
    """52 four-choice questions on the grammar's English, the right answers written by the grammar (notebook 13).

    - ``plural`` (12): ``the plural of mouse is`` -> mice / mouses / mousen / mousees;
    - ``past`` (8): ``yesterday the cat`` -> ate / eated / eats / eating;
    - ``article`` (8): ``the cat eats`` -> an apple / a apple / an apples / a apples;
    - ``adjective_order`` (8): ``the boy sees the`` -> big black dog / black big dog /
      big dog black (the French order) / dog big black;
    - ``agreement`` (8): ``the mice`` -> are white / is white / be white / am white;
    - ``negation`` (8): ``the cat`` -> does not sleep / do not sleep / not sleeps / sleeps not.

    The wrong choices are shuffled (by ``seed``) and the right one takes the positions
    0, 1, 2, 3 in turn, so each position is the answer of 13 questions and a model
    that always picks the same position scores exactly chance.
    """
    rng = random.Random(seed)
    questions = []
    for i, (kind, prompt, right, wrong) in enumerate((
            *_plural_questions(), *_past_questions(), *_article_questions(), *_adjective_order_questions(),
            *_agreement_questions(), *_negation_questions())):
        choices = list(wrong)
        rng.shuffle(choices)
        choices.insert(i % (len(wrong) + 1), right)
        questions.append(Question(kind, prompt, tuple(choices), choices.index(right)))
    return questions
