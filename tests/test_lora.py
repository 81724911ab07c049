"""Tests for helpers/lora.py: LoRA starts as the base model, trains only A and B, merges back exactly."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from helpers.lora import LoRALinear, add_lora, merge_lora, trainable_parameters
from helpers.model import GPT, GPTConfig, count_parameters

TINY = GPTConfig(vocab_size=50, context_length=16, d_model=12, n_layers=2, n_heads=3, dropout=0.0)
TARGETS = ("attn.W_query", "attn.W_value")


def tiny_gpt(seed: int = 0) -> GPT:
    torch.manual_seed(seed)
    return GPT(TINY).eval()


def tokens(seed: int = 1, batch: int = 3) -> torch.Tensor:
    return torch.randint(0, TINY.vocab_size, (batch, TINY.context_length), generator=torch.Generator().manual_seed(seed))


def trained_lora_gpt(steps: int = 5) -> tuple[GPT, dict[str, torch.Tensor]]:
    """A tiny GPT with LoRA on query and value, trained a few steps on random tokens; and its weights before."""
    model = tiny_gpt()
    add_lora(model, rank=2, alpha=4.0, targets=TARGETS)
    before = {name: p.detach().clone() for name, p in model.named_parameters()}
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2, weight_decay=0.1)  # every parameter, on purpose
    ids = tokens()
    for _ in range(steps):
        logits = model(ids[:, :-1])
        loss = F.cross_entropy(logits.flatten(0, 1), ids[:, 1:].flatten())
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return model, before


def test_a_new_layer_computes_exactly_the_base_layer():
    torch.manual_seed(0)
    base = nn.Linear(8, 4)
    layer = LoRALinear(base, rank=2, alpha=4.0)
    x = torch.randn(2, 5, 8)
    assert torch.equal(layer.lora_B, torch.zeros(4, 2)) and layer.lora_A.shape == (2, 8)
    assert layer.lora_A.abs().sum() > 0
    assert torch.equal(layer(x), base(x))


def test_lora_A_is_drawn_from_the_callers_generator_like_kaiming_uniform():
    torch.manual_seed(3)
    first = LoRALinear(nn.Linear(64, 4), rank=4, alpha=8.0).lora_A
    torch.manual_seed(3)
    nn.Linear(64, 4)  # the same draws as above, before A's
    expected = nn.init.kaiming_uniform_(torch.empty(4, 64), a=5**0.5)
    assert torch.equal(first, expected)
    assert first.abs().max() <= 1 / 64**0.5  # Kaiming-uniform with a = √5: bound 1/√in_features


def test_only_A_and_B_train_and_the_base_stays_frozen():
    base = nn.Linear(8, 4)
    layer = LoRALinear(base, rank=2, alpha=4.0)
    assert [name for name, p in layer.named_parameters() if p.requires_grad] == ["lora_A", "lora_B"]
    assert not base.weight.requires_grad and not base.bias.requires_grad


@pytest.mark.parametrize("bias", [True, False])
def test_forward_equals_the_formula_with_the_merged_weight(bias):
    torch.manual_seed(1)
    layer = LoRALinear(nn.Linear(6, 5, bias=bias), rank=3, alpha=6.0)
    with torch.no_grad():
        layer.lora_B.normal_()
    x = torch.randn(4, 6)
    W, b, A, B = layer.base.weight, layer.base.bias, layer.lora_A, layer.lora_B
    expected = F.linear(x, W + 2.0 * B @ A, b)  # x (W + s·B A)ᵀ + b, s = 6 / 3
    torch.testing.assert_close(layer(x), expected, atol=1e-5, rtol=0)


@pytest.mark.parametrize(("rank", "alpha"), [(1, 1.0), (4, 16.0), (8, 4.0)])
def test_scaling_is_alpha_over_rank(rank, alpha):
    layer = LoRALinear(nn.Linear(8, 8), rank=rank, alpha=alpha)
    assert layer.scaling == alpha / rank
    assert f"scaling={alpha / rank:g}" in repr(layer)


def test_trainable_parameters_of_one_layer():
    layer = LoRALinear(nn.Linear(8, 4), rank=2, alpha=2.0)
    assert trainable_parameters(layer) == (2 * 8 + 4 * 2, 2 * 8 + 4 * 2 + 8 * 4 + 4)  # A, B; + W, b


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"rank": 0}, "rank must be a positive integer, got 0"),
        ({"rank": 2.0}, "rank must be a positive integer, got 2.0"),
        ({"alpha": 0}, "alpha must be a positive number, got 0"),
        ({"alpha": -1.5}, "got -1.5"),
    ],
)
def test_bad_rank_or_alpha_is_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        LoRALinear(nn.Linear(4, 4), **{"rank": 2, "alpha": 1.0, **kwargs})


def test_a_base_that_is_not_a_linear_layer_is_refused():
    with pytest.raises(ValueError, match="wraps an nn.Linear, got a Embedding"):
        LoRALinear(nn.Embedding(4, 4), rank=1, alpha=1.0)


# --- a whole GPT --------------------------------------------------------------


def test_add_lora_wraps_the_targets_of_every_block_and_keeps_the_logits():
    model = tiny_gpt()
    ids = tokens()
    with torch.no_grad():
        before = model(ids)
    names = add_lora(model, rank=2, alpha=4.0, targets=TARGETS)
    assert names == ["blocks.0.attn.W_query", "blocks.0.attn.W_value", "blocks.1.attn.W_query", "blocks.1.attn.W_value"]
    assert all(isinstance(model.get_submodule(name), LoRALinear) for name in names)
    assert isinstance(model.blocks[0].attn.W_key, nn.Linear)
    with torch.no_grad():
        assert torch.equal(model(ids), before)


def test_add_lora_freezes_everything_but_A_and_B():
    model = tiny_gpt()
    total = count_parameters(model)
    add_lora(model, rank=2, alpha=4.0, targets=TARGETS)
    trainable = [name for name, p in model.named_parameters() if p.requires_grad]
    assert trainable == [f"blocks.{i}.attn.{w}.lora_{m}" for i in (0, 1) for w in ("W_query", "W_value") for m in "AB"]
    lora = 4 * (2 * 12 + 12 * 2)  # 4 layers, A (2, 12) and B (12, 2)
    assert trainable_parameters(model) == (lora, total + lora)  # the tied head is counted once


def test_training_changes_only_A_and_B_and_then_the_outputs():
    model, before = trained_lora_gpt()
    changed = {name for name, p in model.named_parameters() if not torch.equal(p, before[name])}
    assert changed == {name for name in before if name.endswith(("lora_A", "lora_B"))}
    assert len(changed) == 8  # A too: it gets a gradient once B is no longer zero
    fresh = tiny_gpt()
    with torch.no_grad():
        assert not torch.allclose(model(tokens()), fresh(tokens()), atol=1e-3)


def test_merged_model_equals_the_lora_model_and_is_plain_again():
    model, _ = trained_lora_gpt()
    ids = tokens(seed=2)
    with torch.no_grad():
        before = model(ids)
        assert merge_lora(model) is model
        after = model(ids)
    assert not any(isinstance(m, LoRALinear) for m in model.modules())
    assert count_parameters(model) == count_parameters(tiny_gpt())
    torch.testing.assert_close(after, before, atol=1e-5, rtol=0)


def test_merge_on_the_tied_head_leaves_the_token_embedding_alone():
    model = tiny_gpt()
    add_lora(model, rank=2, alpha=2.0, targets=["out_head"])
    with torch.no_grad():
        model.out_head.lora_B.normal_()
        embedding = model.tok_emb.weight.clone()
        before = model(tokens())
        merge_lora(model)
        torch.testing.assert_close(model(tokens()), before, atol=1e-5, rtol=0)
    assert torch.equal(model.tok_emb.weight, embedding)


def test_merging_one_layer_gives_a_linear_with_W_plus_scaled_BA():
    layer = LoRALinear(nn.Linear(6, 3), rank=2, alpha=3.0)
    with torch.no_grad():
        layer.lora_B.normal_()
    state = torch.get_rng_state()
    merged = merge_lora(layer)
    assert torch.equal(torch.get_rng_state(), state)  # no throw-away random initialisation
    assert type(merged) is nn.Linear and not merged.weight.requires_grad
    torch.testing.assert_close(merged.weight, layer.base.weight + 1.5 * layer.lora_B @ layer.lora_A, atol=1e-6, rtol=0)
    assert torch.equal(merged.bias, layer.base.bias)


def test_a_target_that_matches_no_linear_layer_names_the_ones_there_are():
    model = tiny_gpt()
    with pytest.raises(ValueError, match=r"'attn.W_q' matches no nn.Linear.*blocks.\{i\}.attn.W_query, .*out_head"):
        add_lora(model, rank=2, alpha=4.0, targets=["attn.W_q"])
    with pytest.raises(ValueError, match="'final_norm' matches no nn.Linear"):  # a module, but not a linear one
        add_lora(model, rank=2, alpha=4.0, targets=["final_norm"])
    assert not any(isinstance(m, LoRALinear) for m in model.modules())  # nothing was changed


def test_bad_rank_leaves_the_model_unchanged():
    model = tiny_gpt()
    with pytest.raises(ValueError, match="got 0"):
        add_lora(model, rank=0, alpha=4.0, targets=TARGETS)
    assert not any(isinstance(m, LoRALinear) for m in model.modules())
    assert all(p.requires_grad for p in model.parameters())


def test_lora_is_added_to_a_layer_once():
    model = tiny_gpt()
    add_lora(model, rank=2, alpha=4.0, targets=["attn.W_query"])
    for target in ("attn.W_query", "W_query.base"):
        with pytest.raises(ValueError, match=f"'{target}' already has LoRA"):
            add_lora(model, rank=2, alpha=4.0, targets=[target])
    add_lora(model, rank=2, alpha=4.0, targets="ff.expand")  # a second call adds other layers, one string is one target
    trainable = {name.rsplit(".", 1)[0] for name, p in model.named_parameters() if p.requires_grad}
    assert trainable == {f"blocks.{i}.{layer}" for i in (0, 1) for layer in ("attn.W_query", "ff.expand")}
