"""helpers.classification: the word-order task, the baselines, and the classifier (notebook 12)."""

from __future__ import annotations

import random
from collections import Counter

import pytest
import torch
import torch.nn.functional as F

from helpers.classification import (
    HELD_OUT_ADJECTIVES, ClassificationDataset, GPTClassifier, accuracy, binary_cross_entropy, freeze_all_but,
    french_word_order, ngram_features, ngrams, pool_last_token, train_logistic_regression, word_order_examples,
    word_order_splits,
)
from helpers.model import GPT, GPTConfig
from helpers.pretrained import load_tokenizer
from helpers.training import make_loader


def test_french_word_order_moves_an_adjective_after_its_noun():
    assert french_word_order("the black cat sleeps", random.Random(0)) == "the cat black sleeps"
    moved = {french_word_order("the small dog sees a red apple", random.Random(seed)) for seed in range(20)}
    assert moved == {"the dog small sees a red apple", "the small dog sees a apple red"}
    with pytest.raises(ValueError, match="nothing to move"):
        french_word_order("the cat is black", random.Random(0))


def test_examples_are_balanced_pairs_of_the_same_words():
    sentences = ["the black cat sleeps", "a big dog eats the red apple", "the old man is happy"]
    texts, labels = word_order_examples(sentences, seed=3)
    assert sorted(labels) == [0, 0, 0, 1, 1, 1]
    assert sorted(t for t, y in zip(texts, labels) if y == 1) == sorted(sentences)
    bags = Counter(tuple(sorted(t.split())) for t in texts)
    assert set(bags.values()) == {2}  # each bag of words once correct, once in French order


def test_splits_keep_their_promises():
    splits = word_order_splits(n_train=300, n_test=100)
    sentences = {name: {t for t, y in zip(*split) if y == 1} for name, split in splits.items()}
    assert [len(sentences[name]) for name in ("train", "test_combinations", "test_new_words")] == [300, 100, 100]
    assert not sentences["train"] & sentences["test_combinations"] and not sentences["train"] & sentences["test_new_words"]
    train_words = {w for s in sentences["train"] for w in s.split()}
    assert not train_words & set(HELD_OUT_ADJECTIVES)
    for texts, labels in splits.values():
        assert sum(labels) * 2 == len(labels)


def test_a_bag_of_words_is_at_chance_by_construction():
    texts, labels = word_order_splits(n_train=300, n_test=100)["train"]
    features, _ = ngram_features(texts, 1)
    model = train_logistic_regression(features, torch.tensor(labels).float(), steps=50)
    predicted = (model(features).squeeze(-1) > 0).long()
    assert (predicted == torch.tensor(labels)).float().mean() == 0.5  # the pair of a sentence gets one score


def test_ngrams_and_their_counts():
    assert ngrams("the cat sleeps", 1) == ["the", "cat", "sleeps"]
    assert ngrams("the cat sleeps", 2) == ["<s> the", "the cat", "cat sleeps", "sleeps </s>"]
    counts, vocabulary = ngram_features(["a b a", "b c"], 1)
    assert vocabulary == {"a": 0, "b": 1, "c": 2}
    assert counts.tolist() == [[2, 1, 0], [0, 1, 1]]
    unseen, _ = ngram_features(["c d"], 1, vocabulary)
    assert unseen.tolist() == [[0, 0, 1]]
    with pytest.raises(ValueError, match="n must be 1 or more"):
        ngrams("a b", 0)


def test_logistic_regression_separates_a_separable_problem():
    features = torch.tensor([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [0.2, 0.8]])
    model = train_logistic_regression(features, torch.tensor([1.0, 1.0, 0.0, 0.0]))
    assert ((model(features).squeeze(-1) > 0).long() == torch.tensor([1, 1, 0, 0])).all()


def test_pool_last_token_and_its_errors():
    hidden = torch.arange(2 * 3 * 2.0).view(2, 3, 2)
    assert pool_last_token(hidden, torch.tensor([2, 3])).tolist() == [[2.0, 3.0], [10.0, 11.0]]
    with pytest.raises(ValueError, match="lengths must be in 1..T=3"):
        pool_last_token(hidden, torch.tensor([0, 3]))
    with pytest.raises(ValueError, match=r"need hidden \(B, T, d\)"):
        pool_last_token(hidden[0], torch.tensor([1]))


def test_binary_cross_entropy_equals_torch_even_for_huge_scores():
    scores = torch.tensor([-120.0, -3.0, 0.0, 0.5, 40.0, 200.0])
    labels = torch.tensor([1, 0, 1, 0, 0, 1])
    assert torch.allclose(binary_cross_entropy(scores, labels),
                          F.binary_cross_entropy_with_logits(scores, labels.float()), rtol=1e-6)
    with pytest.raises(ValueError, match="same shape"):
        binary_cross_entropy(scores, labels[:3])


def tiny_gpt(seed: int = 0) -> GPT:
    torch.manual_seed(seed)
    return GPT(GPTConfig(vocab_size=50, context_length=16, d_model=16, n_layers=2, n_heads=2))


def test_padding_does_not_change_a_score():
    """Causal attention: the real tokens never see the padding after them."""
    torch.manual_seed(1)
    classifier = GPTClassifier(tiny_gpt(), pad_id=0).eval()
    alone = [classifier(torch.tensor([ids])) for ids in ([5, 6, 7], [8, 9], [3, 4, 5, 6, 7])]
    batch = torch.tensor([[5, 6, 7, 0, 0], [8, 9, 0, 0, 0], [3, 4, 5, 6, 7]])
    assert torch.allclose(classifier(batch), torch.cat(alone), atol=1e-6)


def test_the_classifier_replaces_the_head_and_keeps_the_embedding():
    gpt = tiny_gpt()
    embedding = gpt.tok_emb.weight.detach().clone()
    classifier = GPTClassifier(gpt, pad_id=0)
    assert torch.equal(classifier.gpt.tok_emb.weight, embedding)
    assert classifier.gpt(torch.tensor([[1, 2]])).shape == (1, 2, 16)
    with pytest.raises(ValueError, match="pad_id must be a token id in 0..49"):
        GPTClassifier(tiny_gpt(), pad_id=50)


def test_freeze_all_but_counts_what_trains():
    classifier = GPTClassifier(tiny_gpt(), pad_id=0)
    assert freeze_all_but(classifier, ["head"]) == 16 + 1
    last = ["head", "gpt.blocks.1", "gpt.final_norm"]
    expected = 17 + sum(p.numel() for p in classifier.gpt.blocks[1].parameters()) + 32
    assert freeze_all_but(classifier, last) == expected
    assert all(n.startswith(tuple(last)) for n, p in classifier.named_parameters() if p.requires_grad)
    assert freeze_all_but(classifier, [""]) == sum(p.numel() for p in classifier.parameters())
    with pytest.raises(ValueError, match="no parameter name starts with 'body'"):
        freeze_all_but(classifier, ["body"])


def test_accuracy_counts_examples_not_batches():
    classifier = GPTClassifier(tiny_gpt(), pad_id=0).eval()
    ids = torch.randint(1, 50, (7, 4))
    labels = torch.tensor([1, 0, 1, 1, 0, 0, 1])
    loader = [(ids[:3], labels[:3]), (ids[3:6], labels[3:6]), (ids[6:], labels[6:])]
    with torch.no_grad():
        expected = ((classifier(ids) > 0).long() == labels).float().mean().item()
    assert accuracy(classifier, loader) == pytest.approx(expected)


def test_dataset_pads_on_the_right_and_refuses_long_texts():
    tokenizer = load_tokenizer()
    dataset = ClassificationDataset(["the cat", "the black cat sleeps"], [1, 0], tokenizer, pad_id=4095, max_length=8)
    ids, labels = next(iter(make_loader(dataset, 2, shuffle=False, collate_fn=dataset.collate)))
    assert ids[0].tolist()[: len(tokenizer.encode("the cat"))] == tokenizer.encode("the cat")
    assert ids[0, -1] == 4095 and labels.tolist() == [1, 0]
    with pytest.raises(ValueError, match="longer than max_length=2"):
        ClassificationDataset(["the black cat sleeps"], [1], tokenizer, pad_id=4095, max_length=2)
