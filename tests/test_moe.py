"""Tests for helpers/moe.py: routing, load balance and the expert layer, against transformers' Mixtral."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from transformers import MixtralConfig, MixtralForCausalLM
from transformers.models.mixtral.modeling_mixtral import (
    MixtralSparseMoeBlock,
    MixtralTopKRouter,
    load_balancing_loss_func,
)

from helpers.model import GPT, GPTConfig, count_parameters
from helpers.modern import ModernConfig, ModernGPT, SwiGLU
from helpers.training import language_model_loss, train
from helpers.moe import (
    MixtureOfExperts,
    add_experts,
    load_balancing_loss,
    moe_aux_loss,
    moe_language_model_loss,
    moe_parameter_counts,
    routing_table,
    top_k_routing,
)


def logits(n_tokens: int = 10, n_experts: int = 6, seed: int = 0) -> torch.Tensor:
    return torch.randn(n_tokens, n_experts, generator=torch.Generator().manual_seed(seed))


def tiny_moe(n_experts: int = 4, top_k: int = 2, seed: int = 0) -> MixtureOfExperts:
    torch.manual_seed(seed)
    return MixtureOfExperts(d_model=8, hidden_dim=12, n_experts=n_experts, top_k=top_k)


def inputs(seed: int = 1, shape: tuple[int, ...] = (3, 5, 8)) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


# --- top_k_routing --------------------------------------------------------------


@pytest.mark.parametrize("k", [1, 2, 6])
def test_routing_is_the_renormalised_top_k_of_the_full_softmax(k):
    router_logits = logits()
    weights, indices = top_k_routing(router_logits, k)
    top_probs, top_indices = F.softmax(router_logits, dim=-1).topk(k, dim=-1)
    assert weights.shape == indices.shape == (10, k) and indices.dtype == torch.int64
    assert torch.equal(indices, top_indices)
    torch.testing.assert_close(weights, top_probs / top_probs.sum(dim=-1, keepdim=True), atol=1e-6, rtol=0)
    torch.testing.assert_close(weights.sum(dim=-1), torch.ones(10), atol=1e-6, rtol=0)
    assert (weights[:, :-1] >= weights[:, 1:]).all()  # largest first


def test_routing_equals_mixtrals_router():
    config = MixtralConfig(hidden_size=8, num_local_experts=6, num_experts_per_tok=2)
    router = MixtralTopKRouter(config)
    with torch.no_grad():
        router.weight.copy_(logits(6, 8, seed=3))
    x = logits(10, 8, seed=4)
    _, scores, expert_ids = router(x)
    weights, indices = top_k_routing(x @ router.weight.T, 2)
    assert torch.equal(indices, expert_ids)
    torch.testing.assert_close(weights, scores, atol=1e-6, rtol=0)


def test_routing_is_stable_for_large_logits():
    weights, _ = top_k_routing(logits() * 1000, 2)
    assert torch.isfinite(weights).all()


@pytest.mark.parametrize("k", [0, 7, -1, 2.0])
def test_routing_refuses_a_bad_k(k):
    with pytest.raises(ValueError, match=f"from 1 to n_experts=6, got {k!r}"):
        top_k_routing(logits(), k)


# --- load_balancing_loss --------------------------------------------------------


def test_perfect_balance_gives_one_for_any_k():
    n_experts = 4
    probs = torch.full((8, n_experts), 1 / n_experts)
    top1 = torch.arange(8).remainder(n_experts).unsqueeze(1)  # each expert twice
    top2 = torch.stack([torch.arange(8) % 4, (torch.arange(8) + 1) % 4], dim=1)  # each expert 4 times of 16
    assert load_balancing_loss(probs, top1, n_experts).item() == pytest.approx(1.0)
    assert load_balancing_loss(probs, top2, n_experts).item() == pytest.approx(1.0)


def test_everything_on_one_expert_gives_n_experts():
    probs = F.one_hot(torch.zeros(6, dtype=torch.long), 5).float()
    indices = torch.zeros(6, 1, dtype=torch.long)
    assert load_balancing_loss(probs, indices, 5).item() == pytest.approx(5.0)


def test_the_loss_is_the_formula_with_fractions_over_all_slots():
    probs = torch.tensor([[0.5, 0.3, 0.2], [0.1, 0.6, 0.3]])
    indices = torch.tensor([[0, 1], [1, 2]])  # expert 0 once, 1 twice, 2 once: f = (1/4, 2/4, 1/4)
    P = torch.tensor([0.3, 0.45, 0.25])
    expected = 3 * (torch.tensor([0.25, 0.5, 0.25]) * P).sum()
    torch.testing.assert_close(load_balancing_loss(probs, indices, 3), expected)


@pytest.mark.parametrize("k", [1, 2, 3])
def test_load_balancing_loss_is_transformers_over_k(k):
    """transformers divides the counts by the number of tokens, not of (token, slot) pairs: k times ours."""
    router_logits = logits(12, 5, seed=k)
    probs = F.softmax(router_logits, dim=-1)
    _, indices = top_k_routing(router_logits, k)
    theirs = load_balancing_loss_func((router_logits,), num_experts=5, top_k=k)
    torch.testing.assert_close(k * load_balancing_loss(probs, indices, 5), theirs, atol=1e-6, rtol=0)


def test_the_gradient_goes_through_the_probabilities():
    router_logits = logits().requires_grad_()
    probs = F.softmax(router_logits, dim=-1)
    _, indices = top_k_routing(router_logits, 2)
    load_balancing_loss(probs, indices, 6).backward()
    assert router_logits.grad.abs().sum() > 0


@pytest.mark.parametrize(
    ("probs", "indices", "message"),
    [
        (torch.rand(4, 3), torch.zeros(4, 2, dtype=torch.long), "3 columns: it needs one per expert, n_experts=4"),
        (torch.rand(4, 4), torch.zeros(5, 2, dtype=torch.long), r"need the same tokens"),
        (torch.rand(4, 4), torch.full((4, 2), 4), r"in 0 .. 3 \(n_experts=4\), got values from 4 to 4"),
    ],
)
def test_load_balancing_loss_refuses_inputs_that_do_not_fit(probs, indices, message):
    with pytest.raises(ValueError, match=message):
        load_balancing_loss(probs, indices, 4)


# --- MixtureOfExperts -----------------------------------------------------------


def dense_by_hand(layer: MixtureOfExperts, x: torch.Tensor) -> torch.Tensor:
    """Every expert on every token; each token's weights scattered into a row of zeros."""
    tokens = x.reshape(-1, x.shape[-1])
    weights, indices = top_k_routing(tokens @ layer.router.weight.T, layer.top_k)
    gates = torch.zeros(tokens.shape[0], layer.n_experts).scatter(1, indices, weights)  # (N, n_experts)
    outputs = torch.stack([expert(tokens) for expert in layer.experts], dim=1)  # (N, n_experts, d_model)
    return (gates.unsqueeze(-1) * outputs).sum(dim=1).reshape(x.shape)


@pytest.mark.parametrize(("n_experts", "top_k"), [(4, 2), (4, 1), (3, 3), (8, 2)])
def test_the_layer_equals_a_dense_computation(n_experts, top_k):
    layer = tiny_moe(n_experts, top_k)
    x = inputs()
    with torch.no_grad():
        torch.testing.assert_close(layer(x), dense_by_hand(layer, x), atol=1e-5, rtol=0)


def test_the_layer_equals_mixtrals_sparse_block():
    layer = tiny_moe(n_experts=4, top_k=2)
    config = MixtralConfig(hidden_size=8, intermediate_size=12, num_local_experts=4, num_experts_per_tok=2)
    block = MixtralSparseMoeBlock(config)
    with torch.no_grad():
        block.gate.weight.copy_(layer.router.weight)
        for i, expert in enumerate(layer.experts):  # transformers stores the experts as (n_experts, ...) tensors
            block.experts.gate_up_proj[i].copy_(torch.cat([expert.gate.weight, expert.up.weight]))
            block.experts.down_proj[i].copy_(expert.down.weight)
        x = inputs()
        torch.testing.assert_close(layer(x), block(x.clone()), atol=1e-5, rtol=0)


def test_one_expert_with_top_1_is_that_swiglu():
    layer = tiny_moe(n_experts=1, top_k=1)
    x = inputs()
    with torch.no_grad():
        torch.testing.assert_close(layer(x), layer.experts[0](x), atol=1e-6, rtol=0)
    assert torch.equal(layer.last_expert_indices, torch.zeros(3, 5, 1, dtype=torch.long))
    assert layer.aux_loss.item() == pytest.approx(1.0)


def test_each_expert_runs_only_on_the_tokens_sent_to_it():
    layer = tiny_moe(n_experts=4, top_k=2)
    seen = {}
    for i, expert in enumerate(layer.experts):
        expert.register_forward_hook(lambda module, args, out, i=i: seen.__setitem__(i, args[0].shape[0]))
    layer(inputs())
    counts = torch.bincount(layer.last_expert_indices.flatten(), minlength=4)
    assert [seen[i] for i in range(4)] == counts.tolist()
    assert sum(seen.values()) == 3 * 5 * 2  # B·T tokens, two experts each: not 4 × 15


def test_the_layer_keeps_its_routing_and_aux_loss():
    layer = tiny_moe(n_experts=4, top_k=2)
    assert layer.last_expert_indices is None and layer.aux_loss is None
    x = inputs()
    layer(x)
    router_logits = x.reshape(-1, 8) @ layer.router.weight.T
    _, indices = top_k_routing(router_logits, 2)
    assert torch.equal(layer.last_expert_indices, indices.reshape(3, 5, 2))
    assert not layer.last_expert_indices.requires_grad and layer.aux_loss.requires_grad
    expected = load_balancing_loss(F.softmax(router_logits, dim=-1), indices, 4)
    torch.testing.assert_close(layer.aux_loss, expected)
    assert "n_experts=4, top_k=2" in repr(layer)


def test_the_gradient_reaches_the_router_and_the_chosen_experts():
    layer = tiny_moe(n_experts=4, top_k=2)
    layer(inputs()).pow(2).sum().backward()
    assert layer.router.weight.grad.abs().sum() > 0
    used = layer.last_expert_indices.unique().tolist()
    assert all(layer.experts[i].down.weight.grad.abs().sum() > 0 for i in used)


def test_the_aux_loss_alone_trains_the_router():
    layer = tiny_moe(n_experts=4, top_k=2)
    layer(inputs())
    layer.aux_loss.backward()
    assert layer.router.weight.grad.abs().sum() > 0


def test_the_layer_runs_under_bfloat16_autocast():
    layer = tiny_moe()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = layer(inputs())
    assert out.dtype == torch.float32 and torch.isfinite(out).all()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n_experts": 0}, "n_experts must be a positive integer, got 0"),
        ({"n_experts": 4, "top_k": 5}, "from 1 to n_experts=4, got 5"),
        ({"n_experts": 4, "top_k": 0}, "got 0"),
    ],
)
def test_bad_sizes_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        MixtureOfExperts(d_model=8, hidden_dim=12, **kwargs)


# --- a model with experts -------------------------------------------------------


TINY = ModernConfig(vocab_size=40, context_length=16, d_model=16, n_layers=2, n_heads=4, n_kv_heads=2, hidden_dim=24)


def tiny_modern(seed: int = 0) -> ModernGPT:
    torch.manual_seed(seed)
    return ModernGPT(TINY)


def token_ids(seed: int = 2, batch: int = 3) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    return torch.randint(0, TINY.vocab_size, (batch, TINY.context_length), generator=gen)


def test_add_experts_replaces_every_feed_forward():
    model = tiny_modern()
    attention = model.blocks[0].attn
    assert add_experts(model, n_experts=4, top_k=2) is model
    for block in model.blocks:
        layer = block.ff
        assert isinstance(layer, MixtureOfExperts) and (layer.n_experts, layer.top_k) == (4, 2)
        assert layer.router.weight.shape == (4, 16) and layer.experts[0].gate.weight.shape == (24, 16)
    assert model.blocks[0].attn is attention
    logits = model(token_ids())
    assert logits.shape == (3, 16, 40)
    assert model.blocks[1].ff.last_expert_indices.shape == (3, 16, 2)


def test_add_experts_initialises_like_the_model_and_follows_the_seed():
    first, second = tiny_modern(), tiny_modern()
    torch.manual_seed(5)
    add_experts(first, n_experts=4, hidden_dim=32)
    torch.manual_seed(5)
    add_experts(second, n_experts=4, hidden_dim=32)
    assert first.blocks[0].ff.experts[3].up.weight.shape == (32, 16)
    assert all(torch.equal(a, b) for a, b in zip(first.state_dict().values(), second.state_dict().values()))
    router = first.blocks[0].ff.router.weight
    assert abs(router.std().item() - 0.02) < 0.01  # init_gpt2_weights: N(0, 0.02²), as ModernGPT's own weights
    torch.manual_seed(6)
    other = add_experts(tiny_modern(), n_experts=4, hidden_dim=32)
    assert not torch.equal(other.blocks[0].ff.router.weight, router)


def test_one_expert_holding_the_old_feed_forward_gives_the_same_model():
    model = tiny_modern()
    ids = token_ids()
    with torch.no_grad():
        before = model(ids)
    dense = [block.ff for block in model.blocks]
    add_experts(model, n_experts=1, top_k=1)
    for block, ff in zip(model.blocks, dense):
        block.ff.experts[0].load_state_dict(ff.state_dict())
    with torch.no_grad():
        torch.testing.assert_close(model(ids), before, atol=1e-6, rtol=0)


def test_the_aux_loss_sums_the_layers_and_the_loss_fn_adds_it():
    model = add_experts(tiny_modern(), n_experts=4)
    ids = token_ids()
    loss = moe_language_model_loss(aux_weight=0.5)(model, ids[:, :-1], ids[:, 1:])
    aux = moe_aux_loss(model)
    torch.testing.assert_close(aux, model.blocks[0].ff.aux_loss + model.blocks[1].ff.aux_loss)
    with torch.no_grad():
        cross_entropy = language_model_loss(model, ids[:, :-1], ids[:, 1:])
    torch.testing.assert_close(loss, cross_entropy + 0.5 * aux)
    loss.backward()
    assert model.blocks[0].ff.router.weight.grad.abs().sum() > 0


def test_a_model_with_experts_trains_with_the_moe_loss():
    model = add_experts(tiny_modern(), n_experts=4)
    ids = token_ids(batch=8)
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(ids[:, :-1], ids[:, 1:]), batch_size=8)
    history = train(model, loader, steps=15, lr=1e-2, loss_fn=moe_language_model_loss(), progress=False)
    assert history.train_loss[-1] < history.train_loss[0] - 0.5


def test_counts_equal_a_modern_gpt_with_experts():
    sizes = {"d_model": 4096, "n_layers": 2, "n_heads": 32, "n_kv_heads": 8, "hidden_dim": 14336, "vocab_size": 32000}
    with torch.device("meta"):  # Mixtral's widths, two blocks: sizes only, no memory used
        model = ModernGPT(ModernConfig(**sizes))
    add_experts(model, n_experts=8, top_k=2)
    assert moe_parameter_counts(**sizes, n_experts=8, top_k=2)[0] == count_parameters(model)


def test_add_experts_refuses_a_model_without_swiglu_blocks():
    gpt = GPT(GPTConfig(vocab_size=20, context_length=8, d_model=8, n_layers=1, n_heads=2))  # GELU feed-forwards
    with pytest.raises(ValueError, match="SwiGLU feed-forward `ff`, like helpers.modern.ModernGPT; this GPT has none"):
        add_experts(gpt, n_experts=4)
    with pytest.raises(ValueError, match="this Linear has none"):
        add_experts(nn.Linear(2, 2), n_experts=4)


def test_moe_aux_loss_needs_moe_layers_and_a_forward():
    with pytest.raises(ValueError, match="has no MixtureOfExperts layer"):
        moe_aux_loss(nn.Sequential(SwiGLU(8, 12)))
    model = nn.Sequential(tiny_moe(), tiny_moe(seed=1))
    with pytest.raises(ValueError, match="has not run a forward yet"):
        moe_aux_loss(model)
    model(inputs())
    torch.testing.assert_close(moe_aux_loss(model), model[0].aux_loss + model[1].aux_loss)


def test_moe_language_model_loss_refuses_a_negative_weight():
    with pytest.raises(ValueError, match="aux_weight must be a number >= 0, got -0.1"):
        moe_language_model_loss(-0.1)


# --- parameter counts -----------------------------------------------------------


def test_mixtral_8x7b_counts_are_the_published_ones():
    """Jiang et al. 2024, "Mixtral of Experts": 46.7B parameters, 12.9B active per token."""
    total, active = moe_parameter_counts(d_model=4096, n_layers=32, n_heads=32, n_kv_heads=8, hidden_dim=14336,
                                         n_experts=8, top_k=2, vocab_size=32000)
    assert (total, active) == (46_702_792_704, 12_879_925_248)  # the module docstring's example
    assert total == pytest.approx(46.7e9, rel=0.005) and active == pytest.approx(12.9e9, rel=0.005)


@pytest.mark.parametrize("tie_weights", [False, True])
def test_counts_equal_a_transformers_mixtral(tie_weights):
    sizes = {"d_model": 16, "n_layers": 2, "n_heads": 4, "n_kv_heads": 2, "hidden_dim": 24, "n_experts": 4,
             "top_k": 2, "vocab_size": 100}
    config = MixtralConfig(vocab_size=100, hidden_size=16, intermediate_size=24, num_hidden_layers=2,
                           num_attention_heads=4, num_key_value_heads=2, num_local_experts=4,
                           num_experts_per_tok=2, tie_word_embeddings=tie_weights)
    torch.manual_seed(0)
    model = MixtralForCausalLM(config)
    total, active = moe_parameter_counts(**sizes, tie_weights=tie_weights)
    assert total == sum(p.numel() for p in model.parameters())
    experts = model.model.layers[0].mlp.experts
    one_expert = (experts.gate_up_proj.numel() + experts.down_proj.numel()) // 4
    assert total - active == 2 * (4 - 2) * one_expert  # two layers, two experts left out in each


def test_with_every_expert_active_the_counts_agree():
    total, active = moe_parameter_counts(64, 2, 4, 4, 96, n_experts=4, top_k=4, vocab_size=50)
    assert total == active


def test_counts_refuse_sizes_that_do_not_fit():
    with pytest.raises(ValueError, match=r"d_model \(30\) must divide by n_heads \(4\)"):
        moe_parameter_counts(30, 2, 4, 2, 64, 4, 2, 50)
    with pytest.raises(ValueError, match=r"n_heads by n_kv_heads \(3\)"):
        moe_parameter_counts(32, 2, 4, 3, 64, 4, 2, 50)
    with pytest.raises(ValueError, match="n_experts must be a positive integer, got 0"):
        moe_parameter_counts(32, 2, 4, 2, 64, 0, 1, 50)
    with pytest.raises(ValueError, match="from 1 to n_experts=4, got 5"):
        moe_parameter_counts(32, 2, 4, 2, 64, 4, 5, 50)


# --- routing_table --------------------------------------------------------------


def test_routing_table_counts_each_groups_assignments():
    groups = ["noun", "verb", "noun", "noun", "verb"]
    indices = torch.tensor([[0, 1], [2, 1], [0, 2], [0, 1], [2, 2]])
    names, table = routing_table(indices, groups, n_experts=3)
    assert names == ["noun", "verb"]
    torch.testing.assert_close(table, torch.tensor([[3 / 6, 2 / 6, 1 / 6], [0.0, 1 / 4, 3 / 4]]))
    names, first = routing_table(indices[:, 0], groups, n_experts=3)  # first choices only
    torch.testing.assert_close(first, torch.tensor([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]]))


def test_routing_table_reads_a_layers_indices_as_they_are():
    layer = tiny_moe(n_experts=4, top_k=2)
    layer(inputs())  # (3, 5) tokens
    groups = ["even" if t % 2 == 0 else "odd" for t in range(15)]
    names, table = routing_table(layer.last_expert_indices, groups, n_experts=4)
    _, flat = routing_table(layer.last_expert_indices.reshape(15, 2), groups, n_experts=4)
    assert names == ["even", "odd"] and torch.equal(table, flat)
    torch.testing.assert_close(table.sum(dim=1), torch.ones(2))


def test_routing_table_refuses_indices_that_do_not_fit_the_labels():
    with pytest.raises(ValueError, match=r"\(4, 2\) does not fit 3 labels"):
        routing_table(torch.zeros(4, 2, dtype=torch.long), ["a", "b", "c"], n_experts=2)
    with pytest.raises(ValueError, match="groups is empty"):
        routing_table(torch.zeros(0, dtype=torch.long), [], n_experts=2)
    with pytest.raises(ValueError, match=r"in 0 .. 1 \(n_experts=2\)"):
        routing_table(torch.tensor([0, 2]), ["a", "b"], n_experts=2)
