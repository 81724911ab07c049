"""helpers.instructions: the tasks, the splits, the chat template, the masked loss, and evaluation (notebook 13)."""

from __future__ import annotations

import copy
import random
from collections import Counter

import pytest
import torch
import torch.nn.functional as F

from helpers.corpus import BE, EAT, NOUNS, SLEEP, NounPhrase, find_adjective, find_noun, find_preposition
from helpers.instructions import (
    ASSISTANT, CHAT_TOKENS, END, HELD_OUT_SUBJECTS, INSTRUCTIONS, MAX_SOURCE_WORDS, PAST_FORMS, TASKS, USER, Example,
    InstructionDataset, Question, SourceSentence, add_chat_tokens, add_special_tokens, choice_log_likelihood,
    encode_prompt, exact_match_by_task, format_example, format_prompt, generate_response, generate_responses,
    instruction_example, instruction_splits, judge_by_task, judge_score, multiple_choice_benchmark,
    multiple_choice_predictions, random_source_sentence, resize_token_embeddings, response_mask_example,
    score_multiple_choice, subjects_for, yes_no_example,
)
from helpers.model import GPT, GPTConfig
from helpers.pretrained import load_tokenizer
from helpers.training import IGNORE_INDEX, language_model_loss, make_loader


def the(french: str, plural: bool = False, adjective: str | None = None) -> NounPhrase:
    adj = find_adjective(adjective) if adjective else None
    return NounPhrase(find_noun(french), plural, "the", adj if adj and adj.before else None,
                      adj if adj and not adj.before else None)


THE_CAT_EATS_THE_APPLE = SourceSentence(the("chat"), EAT, obj=the("pomme"))
THE_MICE_ARE_WHITE = SourceSentence(the("souris", plural=True), BE, predicate=find_adjective("blanc"))
THE_DOGS_SLEEP_UNDER_THE_TABLE = SourceSentence(the("chien", plural=True), SLEEP,
                                                places=((find_preposition("sous"), the("table")),))


@pytest.fixture(scope="module")
def tokenizer():
    return add_special_tokens(load_tokenizer(), CHAT_TOKENS)


def tiny_gpt(vocab_size: int = 20, seed: int = 0, **overrides) -> GPT:
    torch.manual_seed(seed)
    config = dict(vocab_size=vocab_size, context_length=64, d_model=16, n_layers=2, n_heads=2, dropout=0.0)
    return GPT(GPTConfig(**{**config, **overrides})).eval()


# --- the tasks ---------------------------------------------------------------------


def test_each_task_transforms_the_sentence_as_the_grammar_does():
    responses = {task: instruction_example(task, THE_CAT_EATS_THE_APPLE).response for task in ("negate", "question", "past")}
    assert responses == {"negate": "the cat does not eat the apple", "question": "does the cat eat the apple ?",
                         "past": "the cat ate the apple"}
    example = instruction_example("negate", THE_CAT_EATS_THE_APPLE)
    assert example == Example("negate", INSTRUCTIONS["negate"], "the cat eats the apple",
                              "the cat does not eat the apple", "cat")

    assert instruction_example("negate", THE_MICE_ARE_WHITE).response == "the mice are not white"
    assert instruction_example("question", THE_MICE_ARE_WHITE).response == "are the mice white ?"
    with pytest.raises(ValueError, match="no past of 'is'"):
        instruction_example("past", THE_MICE_ARE_WHITE)

    dogs = {task: instruction_example(task, THE_DOGS_SLEEP_UNDER_THE_TABLE).response for task in ("negate", "question", "past")}
    assert dogs == {"negate": "the dogs do not sleep under the table", "question": "do the dogs sleep under the table ?",
                    "past": "the dogs slept under the table"}


def test_yes_no_questions_and_their_answers():
    black_cat = SourceSentence(the("chat"), BE, predicate=find_adjective("noir"))
    white = yes_no_example(black_cat, adjective=find_adjective("blanc"))
    assert (white.input, white.response) == ("the cat is black\nis the cat white ?", "no")
    assert yes_no_example(black_cat, adjective=find_adjective("noir")).response == "yes"
    assert yes_no_example(THE_CAT_EATS_THE_APPLE, mention=find_noun("pomme")).input == \
        "the cat eats the apple\ndoes the sentence mention an apple ?"
    assert yes_no_example(THE_CAT_EATS_THE_APPLE, mention=find_noun("pomme")).response == "yes"
    assert yes_no_example(THE_CAT_EATS_THE_APPLE, mention=find_noun("chien")).response == "no"
    assert yes_no_example(THE_MICE_ARE_WHITE, mention=find_noun("souris")).response == "yes"  # mice: a mouse
    assert yes_no_example(THE_DOGS_SLEEP_UNDER_THE_TABLE, mention=find_noun("table")).response == "yes"
    assert yes_no_example(THE_MICE_ARE_WHITE, adjective=find_adjective("gris")).input.endswith("are the mice grey ?")

    with pytest.raises(ValueError, match="'happy' is a mood"):
        yes_no_example(black_cat, adjective=find_adjective("heureux"))
    with pytest.raises(ValueError, match="exactly one"):
        yes_no_example(black_cat)
    happy_cat = SourceSentence(the("chat"), BE, predicate=find_adjective("heureux"))
    with pytest.raises(ValueError, match="kind in"):
        yes_no_example(happy_cat, adjective=find_adjective("fatigué"))
    with pytest.raises(ValueError, match="rng"):
        instruction_example("yes_no", black_cat)


def test_unknown_task_and_bad_patterns_are_named():
    with pytest.raises(ValueError, match="unknown task 'translate'"):
        instruction_example("translate", THE_CAT_EATS_THE_APPLE)
    with pytest.raises(ValueError, match="unknown task 'Negate'"):
        subjects_for("Negate")
    with pytest.raises(ValueError, match="'sleeps'.*'table'"):
        random_source_sentence(random.Random(0), find_noun("table"), ["sleeps"])


def test_random_sentences_are_short_positive_statements():
    rng = random.Random(5)
    for _ in range(300):
        source = random_source_sentence(rng, rng.choice(NOUNS))
        words = source.english().split()
        assert len(words) <= MAX_SOURCE_WORDS
        assert "not" not in words and "?" not in words


def yes_no_answer_from_text(example: Example) -> str:
    """The answer, worked out from the strings alone."""
    sentence, question = example.input.split("\n")
    words, asked = sentence.split(), question.split()
    if asked[:4] == ["does", "the", "sentence", "mention"]:
        noun = next(n for n in NOUNS if n.en == asked[5])
        return "yes" if noun.en in words or noun.en_plural in words else "no"
    assert asked[0] in ("is", "are") and asked[1:-2] == words[:len(asked) - 3]  # the same subject
    return "yes" if asked[-2] == words[-1] else "no"


def test_generated_examples_keep_the_promises_of_their_task():
    splits = instruction_splits(n_train=400, n_test=40, seed=1)
    for example in (e for split in splits.values() for e in split):
        assert example.instruction == INSTRUCTIONS[example.task]
        source_words = example.input.split("\n")[0].split()
        assert len(source_words) <= MAX_SOURCE_WORDS
        assert example.subject and {example.subject, find_noun_en(example.subject).en_plural} & set(source_words)
        words = example.response.split()
        if example.task == "negate":
            assert "not" in words and len(words) in (len(source_words) + 1, len(source_words) + 2)
        elif example.task == "question":
            assert words[0] in ("do", "does", "is", "are") and words[-1] == "?"
        elif example.task == "past":
            changed = [(a, b) for a, b in zip(source_words, words) if a != b]
            assert len(words) == len(source_words) and len(changed) == 1 and changed[0][1] in PAST_FORMS
        else:
            assert example.response == yes_no_answer_from_text(example)


def find_noun_en(english: str):
    return next(n for n in NOUNS if n.en == english)


# --- the splits --------------------------------------------------------------------


def test_splits_have_their_sizes_and_are_disjoint():
    splits = instruction_splits(n_train=800, n_test=80, seed=0)
    assert [len(splits[name]) for name in ("train", "test_seen", "test_unseen_combinations")] == [800, 80, 80]
    keys = {name: {(e.task, e.input) for e in split} for name, split in splits.items()}
    assert [len(keys[name]) for name in keys] == [800, 80, 80]  # no repeat inside a split
    assert not keys["train"] & keys["test_seen"]
    assert not keys["train"] & keys["test_unseen_combinations"]
    assert not keys["test_seen"] & keys["test_unseen_combinations"]
    for split in splits.values():
        assert set(Counter(e.task for e in split).values()) == {len(split) // 4}
        answers = Counter(e.response for e in split if e.task == "yes_no")
        assert answers["yes"] == answers["no"]
    assert instruction_splits(40, 8, seed=0) == instruction_splits(40, 8, seed=0)
    assert instruction_splits(40, 8, seed=0) != instruction_splits(40, 8, seed=1)


def test_unseen_combinations_never_meet_in_training_but_their_nouns_do():
    splits = instruction_splits(n_train=800, n_test=80, seed=0)
    train_pairs = {(e.task, e.subject) for e in splits["train"]}
    unseen_pairs = {(e.task, e.subject) for e in splits["test_unseen_combinations"]}
    assert unseen_pairs == {(task, noun) for task, nouns in HELD_OUT_SUBJECTS.items() for noun in nouns}
    assert not unseen_pairs & train_pairs
    for task, noun in unseen_pairs:
        assert {t for t, n in train_pairs if n == noun} == set(TASKS) - {task}  # with every other task
    assert {(e.task, e.subject) for e in splits["test_seen"]} <= train_pairs
    held_out_nouns = {noun for nouns in HELD_OUT_SUBJECTS.values() for noun in nouns}
    assert len(held_out_nouns) == 2 * len(TASKS)  # each noun held out from one task only


def test_split_sizes_are_checked():
    with pytest.raises(ValueError, match="n_train must be a whole number >= 0, got -1"):
        instruction_splits(n_train=-1)
    with pytest.raises(ValueError, match="n_test must be a whole number >= 0, got 2.5"):
        instruction_splits(n_test=2.5)


# --- special tokens and the template ------------------------------------------------


def test_new_special_tokens_get_the_ids_after_the_vocabulary():
    base = load_tokenizer()
    chat = add_special_tokens(base, CHAT_TOKENS)
    assert [chat.special_tokens[t] for t in CHAT_TOKENS] == [4096, 4097, 4098]
    assert base.special_tokens == {"<|endoftext|>": 4095} and base.vocab_size == 4096  # not changed
    assert chat.vocab_size == 4099
    text = "It is a truth universally acknowledged, that the cat eats the apple ?\n<>|"
    assert chat.encode(text) == base.encode(text)
    for token in CHAT_TOKENS:
        ids = chat.encode(f"the cat{token}sleeps", allowed_special={token})
        assert ids == base.encode("the cat") + [chat.special_tokens[token]] + base.encode("sleeps")
        assert chat.decode(ids) == f"the cat{token}sleeps"
    with pytest.raises(ValueError, match="'<|endoftext|>' is already a special token"):
        add_special_tokens(base, ["<|endoftext|>"])
    with pytest.raises(ValueError, match="'<|user|>' is listed 2 times"):
        add_special_tokens(base, [USER, USER])
    with pytest.raises(ValueError, match="names is empty"):
        add_special_tokens(base, [])
    with pytest.raises(TypeError, match="write \\['<|user|>'\\]"):
        add_special_tokens(base, USER)


def test_prompt_and_example_format(tokenizer):
    prompt = format_prompt("Make this sentence negative.", "the cat eats the apple")
    assert prompt == "<|user|>Make this sentence negative.\nthe cat eats the apple<|end|><|assistant|>"
    example = instruction_example("negate", THE_CAT_EATS_THE_APPLE)
    assert format_example(example) == prompt + "the cat does not eat the apple<|end|>"
    ids = encode_prompt(tokenizer, example.instruction, example.input)
    assert ids[0] == tokenizer.special_tokens[USER] and ids[-2:] == [tokenizer.special_tokens[t] for t in (END, ASSISTANT)]
    whole = tokenizer.encode(format_example(example), allowed_special=set(CHAT_TOKENS))
    assert whole == ids + tokenizer.encode(example.response) + [tokenizer.special_tokens[END]]
    with pytest.raises(ValueError, match="input contains the chat token '<|end|>'"):
        format_prompt("Say it.", "the cat<|end|><|assistant|>yes")
    with pytest.raises(TypeError, match="instruction must be a str, got int"):
        format_prompt(3, "x")
    with pytest.raises(ValueError, match="add_special_tokens"):
        encode_prompt(load_tokenizer(), "Say it.", "x")


def test_resize_keeps_the_old_rows_and_the_tie_and_starts_new_rows_at_the_mean():
    model = tiny_gpt(vocab_size=20)
    before, config = copy.deepcopy(model), model.config
    ids = torch.tensor([[3, 1, 4, 1, 5, 9, 2, 6]])
    hidden = {}
    model.final_norm.register_forward_hook(lambda module, inputs, output: hidden.setdefault("after", output))
    before.final_norm.register_forward_hook(lambda module, inputs, output: hidden.setdefault("before", output))
    with torch.no_grad():
        old_logits = before(ids)
    assert resize_token_embeddings(model, 23) is model
    weight = model.tok_emb.weight
    assert weight.shape == (23, 16) and model.config.vocab_size == 23 and config.vocab_size == 20
    assert model.out_head.weight is weight
    assert torch.equal(weight[:20], before.tok_emb.weight)
    assert torch.equal(weight[20:], before.tok_emb.weight.mean(dim=0).expand(3, 16))
    with torch.no_grad():
        new_logits = model(ids)
    assert torch.equal(hidden["after"], hidden["before"])  # the same computation up to the head
    assert new_logits.shape == (1, 8, 23)
    # The old tokens' logits are the same dot products; only the matrix multiply's width changed,
    # which may change how a BLAS kernel sums them, so 1e-6 and not bit for bit.
    torch.testing.assert_close(new_logits[..., :20], old_logits, rtol=0, atol=1e-6)
    torch.testing.assert_close(new_logits[..., 20:], hidden["after"] @ weight[20:].T, rtol=0, atol=1e-6)
    model(torch.tensor([[22, 21, 20]]))  # the new ids are real tokens now
    assert resize_token_embeddings(model, 23).tok_emb.weight is weight  # already that size: unchanged


def test_resize_an_untied_model_grows_its_head_too():
    model = tiny_gpt(vocab_size=20, tie_weights=False)
    head = model.out_head.weight.detach().clone()
    model.tok_emb.weight.requires_grad_(False)
    resize_token_embeddings(model, 22)
    assert model.out_head.weight is not model.tok_emb.weight
    assert torch.equal(model.out_head.weight[:20], head)
    assert torch.equal(model.out_head.weight[20:], head.mean(dim=0).expand(2, 16))
    assert not model.tok_emb.weight.requires_grad and model.out_head.weight.requires_grad  # as they were
    with pytest.raises(ValueError, match="got 10"):
        resize_token_embeddings(model, 10)


def test_add_chat_tokens_gives_model_and_tokenizer_the_same_vocabulary():
    model, tokenizer = add_chat_tokens(tiny_gpt(vocab_size=4096), load_tokenizer())
    assert model.config.vocab_size == tokenizer.vocab_size == 4099


# --- the masked loss ---------------------------------------------------------------


def test_response_mask_masks_exactly_the_prompt():
    inputs, targets = response_mask_example([1, 2, 3], [7, 8], end_id=9)
    assert inputs.tolist() == [1, 2, 3, 7, 8]
    assert targets.tolist() == [IGNORE_INDEX, IGNORE_INDEX, 7, 8, 9]
    for n_prompt in range(1, 6):
        inputs, targets = response_mask_example(list(range(10, 10 + n_prompt)), [20, 21, 22], end_id=99)
        masked = (targets == IGNORE_INDEX).nonzero().flatten().tolist()
        assert masked == list(range(n_prompt - 1))  # the targets that are prompt tokens
        assert targets[-1] == 99 and not (inputs == IGNORE_INDEX).any()
    assert response_mask_example(torch.tensor([4, 5]), (6,), 7)[1].tolist() == [IGNORE_INDEX, 6, 7]  # tensors too


def test_response_mask_refuses_bad_input():
    with pytest.raises(ValueError, match="prompt_ids is empty"):
        response_mask_example([], [1], 2)
    with pytest.raises(ValueError, match="6 input tokens .* more than context_length=5"):
        response_mask_example([1, 2, 3, 4], [5, 6], 7, context_length=5)
    assert len(response_mask_example([1, 2, 3, 4], [5], 7, context_length=5)[0]) == 5


def test_a_dataset_item_is_the_masked_example(tokenizer):
    example = instruction_example("question", THE_CAT_EATS_THE_APPLE)
    dataset = InstructionDataset([example], tokenizer, context_length=64)
    inputs, targets = dataset[0]
    assert tokenizer.decode(inputs.tolist()) == format_example(example).removesuffix(END)
    kept = targets[targets != IGNORE_INDEX].tolist()
    assert tokenizer.decode(kept) == "does the cat eat the apple ?" + END
    n_prompt = len(encode_prompt(tokenizer, example.instruction, example.input))
    assert (targets[: n_prompt - 1] == IGNORE_INDEX).all() and targets[n_prompt - 1] != IGNORE_INDEX
    with pytest.raises(ValueError, match="example 0 \\(question: 'the cat eats the apple'\\).*context_length=10"):
        InstructionDataset([example], tokenizer, context_length=10)
    with pytest.raises(ValueError, match="pad_id 5000"):
        InstructionDataset([example], tokenizer, context_length=64, pad_id=5000)


def test_collate_right_pads_and_the_training_loss_counts_only_responses(tokenizer):
    examples = instruction_splits(n_train=8, n_test=0, seed=2)["train"]
    dataset = InstructionDataset(examples, tokenizer, context_length=64)
    batch = [dataset[i] for i in range(4)]
    inputs, targets = dataset.collate(batch)
    longest = max(len(x) for x, _ in batch)
    assert inputs.shape == targets.shape == (4, longest) and inputs.dtype == targets.dtype == torch.long
    for row, (x, y) in enumerate(batch):
        assert torch.equal(inputs[row, : len(x)], x) and torch.equal(targets[row, : len(y)], y)
        assert (inputs[row, len(x):] == dataset.pad_id).all() and (targets[row, len(y):] == IGNORE_INDEX).all()
    assert dataset.pad_id == tokenizer.special_tokens[END]

    model = tiny_gpt(vocab_size=tokenizer.vocab_size)
    inputs, targets = next(iter(make_loader(dataset, batch_size=4, collate_fn=dataset.collate)))
    loss = language_model_loss(model, inputs, targets)
    keep = targets != IGNORE_INDEX
    reference = F.cross_entropy(model(inputs)[keep], targets[keep])
    torch.testing.assert_close(loss, reference)
    n_response_tokens = sum(len(tokenizer.encode(e.response)) + 1 for e in examples)
    assert sum(int((y != IGNORE_INDEX).sum()) for _, y in dataset) == n_response_tokens


# --- answering ---------------------------------------------------------------------


@torch.no_grad()
def greedy_without_cache(model, tokenizer, example, max_new_tokens):
    ids = encode_prompt(tokenizer, example.instruction, example.input)
    end_id = tokenizer.special_tokens[END]
    new = []
    for _ in range(max_new_tokens):
        token = int(model(torch.tensor([ids + new]))[0, -1].argmax())
        if token == end_id:
            break
        new.append(token)
    return tokenizer.decode(new).strip()


def test_generate_responses_is_greedy_decoding_until_end(tokenizer):
    model = tiny_gpt(vocab_size=tokenizer.vocab_size, seed=3)
    with torch.no_grad():  # make END likelier, so that answers stop after 0, 1, 2 … tokens, or never
        model.tok_emb.weight[tokenizer.special_tokens[END]] *= 3
    examples = instruction_splits(n_train=24, n_test=0, seed=4)["train"]  # five prompts of 23 tokens: 2 + 2 + 1
    got = generate_responses(model, tokenizer, examples, max_new_tokens=6, batch_size=2)
    assert got == [greedy_without_cache(model, tokenizer, e, 6) for e in examples]
    assert "" in got and len(set(got)) > 10
    assert generate_response(model, tokenizer, examples[0].instruction, examples[0].input, 6) == got[0]


def test_generate_needs_the_chat_tokens_in_tokenizer_and_model(tokenizer):
    with pytest.raises(ValueError, match="add_special_tokens"):
        generate_response(tiny_gpt(vocab_size=4096), load_tokenizer(), "Say it.", "x")
    with pytest.raises(ValueError, match="resize_token_embeddings"):
        generate_response(tiny_gpt(vocab_size=4096), tokenizer, "Say it.", "x")
    with pytest.raises(ValueError, match="the prompt has .* tokens, the model reads at most 8"):
        generate_response(tiny_gpt(vocab_size=4099, context_length=8), tokenizer, "Say it.", "the cat sleeps")


# --- evaluation: exact match and the judge ------------------------------------------


def test_exact_match_by_task():
    examples = [instruction_example(t, THE_CAT_EATS_THE_APPLE) for t in ("negate", "past", "negate")]
    responses = ["the cat does not eat the apple", "the cat eats the apple", " the  cat does not eat the apple "]
    assert exact_match_by_task(examples, responses) == {"negate": 1.0, "past": 0.0}
    with pytest.raises(ValueError, match="3 examples, 2 responses"):
        exact_match_by_task(examples, responses[:2])


def test_the_judge_follows_its_rubric():
    negate = instruction_example("negate", THE_CAT_EATS_THE_APPLE)  # 7 words
    assert judge_score(negate, "the cat does not eat the apple") == 100
    assert judge_score(negate, "the dog does not eat the apple") == 40 + 34 + 20  # 40 × 6/7 rounded down
    assert judge_score(negate, "the cat does not eat") == 40 + 28 + 0  # cut short: no stop points
    assert judge_score(negate, "the cat does not eat the apple the") == 40 + 35 + 0  # ran on
    assert judge_score(negate, "the cat eats the apple") == 0 + 22 + 20  # the input copied
    assert judge_score(negate, "") == 0
    question = instruction_example("question", THE_CAT_EATS_THE_APPLE)
    assert judge_score(question, "does the cat eat an apple ?") == 40 + 34 + 20
    yes = yes_no_example(THE_CAT_EATS_THE_APPLE, mention=find_noun("chat"))
    assert [judge_score(yes, r) for r in ("yes", "no", "maybe", "yes it does")] == [100, 0, 0, 40 + 13 + 0]
    with pytest.raises(ValueError, match="unknown task 'summarise'"):
        judge_score(Example("summarise", "", "", "x"), "x")


def test_the_judge_agrees_with_exact_match():
    examples = instruction_splits(n_train=0, n_test=40, seed=3)["test_seen"]
    rng = random.Random(0)
    for example in examples:
        words = example.response.split()
        variants = [words, words[:-1], words + ["the"], words[1:], [rng.choice(words)] + words[1:],
                    words[::-1], ["no" if words[0] == "yes" else "yes"] + words[1:]]
        for variant in variants:
            response = " ".join(variant)
            exact = exact_match_by_task([example], [response])[example.task] == 1.0
            assert (judge_score(example, response) == 100) == exact
            assert 0 <= judge_score(example, response) <= 100
    responses = [e.response for e in examples]
    assert set(judge_by_task(examples, responses).values()) == {100.0}


# --- multiple choice ---------------------------------------------------------------


def reference_log_likelihood(model, prompt_ids, choice_ids):
    """-cross_entropy(sum) over the whole sequence, the prompt's targets ignored."""
    ids = torch.tensor(prompt_ids + choice_ids)
    targets = ids[1:].clone()
    targets[: len(prompt_ids) - 1] = IGNORE_INDEX
    with torch.no_grad():
        logits = model(ids[:-1].unsqueeze(0))[0]
    return -float(F.cross_entropy(logits, targets, reduction="sum"))


def test_choice_log_likelihood_is_the_sum_of_the_choice_tokens_log_probabilities():
    model = tiny_gpt(vocab_size=20, seed=1, dropout=0.2).train()
    with torch.no_grad():
        model.tok_emb.weight.mul_(20)  # predictions far from uniform
    for prompt, choice in [([1, 2, 3], [4, 5]), ([7], [8, 9, 10]), ([3, 3, 3, 3], [2]), ([0, 1], list(range(2, 12)))]:
        got = choice_log_likelihood(model, prompt, choice)
        assert got == pytest.approx(reference_log_likelihood(model.eval(), prompt, choice), abs=1e-5)
        model.train()
        assert got < 0
    assert model.training  # put back in the mode it came in


def test_choice_log_likelihood_refuses_bad_input():
    model = tiny_gpt(vocab_size=20, context_length=8)
    with pytest.raises(ValueError, match="choice_ids is empty"):
        choice_log_likelihood(model, [1, 2], [])
    with pytest.raises(ValueError, match="prompt_ids is empty"):
        choice_log_likelihood(model, [], [1])
    with pytest.raises(ValueError, match="prompt \\(6 tokens\\) \\+ choice \\(3\\) is longer than the model's context length 8"):
        choice_log_likelihood(model, [1] * 6, [2] * 3)


def test_the_benchmark_is_built_from_the_grammar():
    questions = multiple_choice_benchmark()
    assert len(questions) >= 40
    assert all(len(q.choices) == 4 and len(set(q.choices)) == 4 for q in questions)
    assert Counter(q.answer for q in questions) == {0: 13, 1: 13, 2: 13, 3: 13}
    assert Counter(q.kind for q in questions) == {"plural": 12, "past": 8, "article": 8, "adjective_order": 8,
                                                 "agreement": 8, "negation": 8}
    right = {(q.prompt, q.choices[q.answer]) for q in questions}
    assert {("the plural of mouse is", "mice"), ("the plural of man is", "men"), ("yesterday the cat", "slept"),
            ("yesterday the men", "ate"), ("the cat eats", "an apple"), ("the dog eats", "a big apple"),
            ("the mice", "are white"), ("the cat", "does not sleep"), ("the dogs", "do not sleep"),
            ("the boy sees the", "big black dog")} <= right
    mouse = next(q for q in questions if q.prompt == "the plural of mouse is")
    assert set(mouse.choices) == {"mice", "mouses", "mousen", "mousi"}
    assert multiple_choice_benchmark() == questions  # the same every time


def test_score_multiple_choice_is_the_accuracy_of_the_most_likely_choices():
    tokenizer = load_tokenizer()
    model = tiny_gpt(vocab_size=tokenizer.vocab_size, seed=2)
    questions = multiple_choice_benchmark()[::6]
    predictions = multiple_choice_predictions(model, tokenizer, questions)
    for question, predicted in zip(questions, predictions):
        prompt_ids = tokenizer.encode(question.prompt)
        scores = [reference_log_likelihood(model, prompt_ids, tokenizer.encode(" " + c)) for c in question.choices]
        assert predicted == max(range(4), key=scores.__getitem__)
    accuracy = score_multiple_choice(model, tokenizer, questions)
    assert accuracy == sum(p == q.answer for p, q in zip(predictions, questions)) / len(questions)
    with pytest.raises(ValueError, match="no questions"):
        score_multiple_choice(model, tokenizer, [])


def test_a_question_refuses_bad_choices():
    with pytest.raises(ValueError, match="at least two different, non-empty choices, got \\(\\)"):
        Question("plural", "the plural of cat is", (), 0)
    with pytest.raises(ValueError, match="got \\('cats', 'cats'\\)"):
        Question("plural", "the plural of cat is", ("cats", "cats"), 0)
    with pytest.raises(ValueError, match="0..1, got 2"):
        Question("plural", "the plural of cat is", ("cats", "caten"), 2)
