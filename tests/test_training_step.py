"""The cheaper training step computes what the straightforward one computed: the loss and every
parameter's gradient of a 16x16-grid step match `fixtures/training_step.safetensors`, saved from the
implementation before the step was made cheaper (both designs, both phases). Gradients are compared
through a fingerprint: 8 random projections and the norm of each parameter's gradient."""
from dataclasses import replace

import pytest
import torch
import torch.nn.functional as F
from einops import rearrange
from safetensors.torch import load_file

from dila import DiLAWorldModel
from dila.losses import LossWeights, world_model_loss
from dila.modules.attention import BiasedAttention, rotate
from dila.modules.position import ContinuousPositionBias, relative_offsets

DESIGNS = {"published": {}, "bundled": dict(inverse_input="pair", inverse_antisymmetric=True, inverse_time_kernel=1,
                                            time_padding="replicate", residual_decoder=True)}
WEIGHTS = {"published": LossWeights(), "bundled": LossWeights(symmetry=0.0, oracle=4.0, detached_dynamics=1.0)}


def fingerprint(grad: torch.Tensor, k: int = 8) -> torch.Tensor:
    g = torch.Generator().manual_seed(grad.numel())
    projections = torch.randn(k, grad.numel(), generator=g, dtype=torch.float64) @ grad.double().flatten()
    return torch.cat((projections, grad.double().norm().reshape(1)))


@pytest.mark.parametrize("design", DESIGNS)
@pytest.mark.parametrize("phase", [1, 2])
def test_loss_and_gradients_match_the_reference_step(fixtures, tiny_config, one_thread, design, phase):
    reference = load_file(fixtures / "training_step.safetensors")
    torch.manual_seed(0)
    model = DiLAWorldModel(replace(tiny_config, dropout=0.0, **DESIGNS[design])).train()
    tokens = torch.randn(2, 4, tiny_config.embed_dim, 16, 16)
    loss, _ = world_model_loss(model, tokens, phase, WEIGHTS[design])
    loss.backward()
    prefix = f"{design}.phase{phase}."
    torch.testing.assert_close(loss.detach().reshape(1), reference[prefix + "loss"], rtol=1e-6, atol=0)
    grads = {name: p.grad for name, p in model.named_parameters() if p.grad is not None}
    assert {prefix + "grad." + name for name in grads} == {k for k in reference if k.startswith(prefix + "grad.")}
    scale = max(reference[prefix + "grad." + name][-1].item() for name in grads)
    for name, grad in grads.items():
        torch.testing.assert_close(fingerprint(grad), reference[prefix + "grad." + name], rtol=1e-4, atol=1e-6 * scale,
                                   msg=lambda m, name=name: f"{name}: {m}")


def test_position_bias_runs_its_mlp_once_per_distinct_offset_with_the_same_values():
    torch.manual_seed(0)
    bias = ContinuousPositionBias(16, heads=2)
    h, w = 5, 7
    centres = torch.stack(torch.meshgrid((torch.arange(h) + 0.5) / h, (torch.arange(w) + 0.5) / w, indexing="ij"))
    centres = centres.flatten(1).T
    rel = centres[:, None] - centres[None]
    every_pair = bias.net(torch.sign(rel) * torch.log1p(rel.abs())).permute(2, 0, 1)
    table, index = relative_offsets(h, w, torch.device("cpu"))
    assert table.shape == ((2 * h - 1) * (2 * w - 1), 2) and index.shape == (h * w, h * w)
    torch.testing.assert_close(bias._compute(h, w, torch.device("cpu")), every_pair, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("bias_shape", [(3, 5, 7), (1, 1, 5, 7)])
def test_biased_attention_matches_the_math_path_and_its_gradients(bias_shape):
    torch.manual_seed(0)
    q = torch.randn(2, 3, 5, 4, dtype=torch.float64, requires_grad=True)
    k, v = (torch.randn(2, 3, 7, 4, dtype=torch.float64, requires_grad=True) for _ in range(2))
    bias = torch.randn(bias_shape, dtype=torch.float64, requires_grad=True)
    grad = torch.randn(2, 3, 5, 4, dtype=torch.float64)
    expected = torch.nn.functional.scaled_dot_product_attention(q, k, v, attn_mask=bias, scale=8.0)
    got = BiasedAttention.apply(q, k, v, bias, 8.0, 1)
    torch.testing.assert_close(got, expected)
    for a, b in zip(torch.autograd.grad((got * grad).sum(), (q, k, v, bias)),
                    torch.autograd.grad((expected * grad).sum(), (q, k, v, bias))):
        torch.testing.assert_close(a, b)


def test_attention_outside_autograd_and_with_one_key_gives_the_fused_paths_numbers():
    from dila.modules.attention import Attention

    torch.manual_seed(0)
    spatial, causal = Attention(16, 8, 2), Attention(16, 8, 2, causal=True, rotary=True)
    x, bias = torch.randn(3, 10, 16), torch.randn(2, 10, 10)
    with torch.no_grad():  # the chunked path without autograd
        torch.testing.assert_close(spatial(x, bias=bias), _reference(spatial, x, bias))
        one = torch.randn(5, 1, 16)  # one frame: the time attention's single key
        torch.testing.assert_close(causal(one), _reference(causal, one, None), rtol=0, atol=1e-6)


def _reference(attention, x, bias):
    """The attention computed by `scaled_dot_product_attention` alone."""
    q = rearrange(attention.to_q(attention.norm(x)), "b n (h d) -> b h n d", h=attention.heads)
    k, v = (rearrange(t, "b n (h d) -> b h n d", h=attention.heads) for t in attention.to_kv(x).chunk(2, dim=-1))
    if attention.rotary:
        q, k = rotate(q), rotate(k)
    q, k = F.normalize(q, dim=-1) * attention.q_scale, F.normalize(k, dim=-1) * attention.k_scale
    out = F.scaled_dot_product_attention(q, k, v, attn_mask=bias, is_causal=attention.causal, scale=8.0)
    return attention.to_out(rearrange(out, "b h n d -> b n (h d)"))
