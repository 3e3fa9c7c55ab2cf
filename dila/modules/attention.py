"""Attention with qk-norm, optional rotary time positions, null key/values and additive bias."""
from __future__ import annotations

from functools import lru_cache

import torch
import torch.nn.functional as F
from einops import rearrange, repeat
from torch import nn

from dila.modules.helpers import exists


@lru_cache(maxsize=64)
def _rotary_cos_sin(dim_head: int, length: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    half = dim_head // 2
    inv_freq = 1.0 / (10000.0 ** (torch.arange(half, dtype=torch.float32) / half))
    angles = torch.outer(torch.arange(length, dtype=torch.float32), inv_freq)
    return angles.cos().to(device), angles.sin().to(device)


def rotate(x: torch.Tensor) -> torch.Tensor:
    """Rotary position embedding over the sequence axis of `b h n d` (first half / second half pairs)."""
    cos, sin = _rotary_cos_sin(x.shape[-1], x.shape[-2], x.device)
    first, second = x.chunk(2, dim=-1)
    return torch.cat((first * cos - second * sin, first * sin + second * cos), dim=-1)


class BiasedAttention(torch.autograd.Function):
    """softmax(scale q k^T + bias) v over `b h n d`, one bias `h n m` (or `1 h n m`) for the whole batch.

    Forward through the CPU's fused kernel, which takes the bias as a 4-d mask and keeps each row's
    log-sum-exp; backward a few batch entries at a time, the attention weights recomputed from that
    log-sum-exp instead of kept (every `n m` matrix stays in cache), with the bias's gradient, which the
    fused kernel does not give. The numbers of the math path of `scaled_dot_product_attention`, which
    the CPU takes for any additive bias that needs a gradient."""

    @staticmethod
    def forward(ctx, q, k, v, bias, scale: float, chunk: int):
        out, lse = fused_attention(q, k, v, bias, scale)
        ctx.save_for_backward(q, k, v, bias, out, lse)
        ctx.scale, ctx.chunk = scale, chunk
        return out

    @staticmethod
    def backward(ctx, grad_out):
        q, k, v, bias, out, lse = ctx.saved_tensors
        scale, chunk = ctx.scale, ctx.chunk
        dq, dk, dv, dbias = [], [], [], torch.zeros_like(bias)
        for qc, kc, vc, oc, lc, doc in zip(*(t.split(chunk) for t in (q, k, v, out, lse, grad_out))):
            p = (qc @ kc.transpose(-1, -2)).mul_(scale).add_(bias).sub_(lc[..., None]).exp_()
            dv.append(p.transpose(-1, -2) @ doc)
            ds = p.mul_((doc @ vc.transpose(-1, -2)).sub_((doc * oc).sum(-1, keepdim=True)))
            dbias += ds.sum_to_size(bias.shape)
            dq.append((ds @ kc).mul_(scale))
            dk.append((ds.transpose(-1, -2) @ qc).mul_(scale))
        return torch.cat(dq), torch.cat(dk), torch.cat(dv), dbias, None, None


def fused_attention(q, k, v, bias, scale: float) -> tuple[torch.Tensor, torch.Tensor]:
    """softmax(scale q k^T + bias) v and each row's log-sum-exp `b h n`: the CPU's fused kernel where it
    runs, else the math written out."""
    mask = bias if bias.dim() == 4 else bias[None]
    if q.device.type == "cpu":
        return torch.ops.aten._scaled_dot_product_flash_attention_for_cpu(q, k, v, attn_mask=mask, scale=scale)
    logits = (q @ k.transpose(-1, -2)).mul_(scale).add_(mask)
    return torch.softmax(logits, dim=-1) @ v, logits.logsumexp(dim=-1)


class Attention(nn.Module):
    """Multi-head attention as in DiLA.

    Queries come from the layer-normed input; keys and values from the *raw* input (self-attention)
    or the layer-normed context (cross-attention). Queries and keys are l2-normalised and scaled
    per channel (qk-norm) with a fixed temperature of 8.
    """

    def __init__(
        self,
        dim: int,
        dim_head: int,
        heads: int,
        dim_context: int | None = None,
        causal: bool = False,
        rotary: bool = False,
        num_null_kv: int = 0,
        dropout: float = 0.0,
    ):
        super().__init__()
        inner = dim_head * heads
        self.heads, self.causal, self.rotary, self.dropout = heads, causal, rotary, dropout
        self.norm = nn.LayerNorm(dim)
        self.context_norm = nn.LayerNorm(dim_context or dim)
        self.null_kv = nn.Parameter(torch.randn(heads, 2 * num_null_kv, dim_head)) if num_null_kv else None
        self.to_q = nn.Linear(dim, inner, bias=False)
        self.to_kv = nn.Linear(dim_context or dim, 2 * inner, bias=False)
        self.q_scale = nn.Parameter(torch.ones(dim_head))
        self.k_scale = nn.Parameter(torch.ones(dim_head))
        self.to_out = nn.Linear(inner, dim, bias=False)

    def forward(self, x: torch.Tensor, context: torch.Tensor | None = None, bias: torch.Tensor | None = None):
        """x: `b n d`; context: `b m c`; bias: additive, broadcastable to `b h n m`."""
        kv_input = self.context_norm(context) if exists(context) else x
        q = self.to_q(self.norm(x))
        k, v = self.to_kv(kv_input).chunk(2, dim=-1)
        q, k, v = (rearrange(t, "b n (h d) -> b h n d", h=self.heads) for t in (q, k, v))
        if self.rotary:
            q, k = rotate(q), rotate(k)
        if exists(self.null_kv):
            null_k, null_v = repeat(self.null_kv, "h (n kv) d -> kv b h n d", b=x.shape[0], kv=2)
            k, v = torch.cat((null_k, k), dim=-2), torch.cat((null_v, v), dim=-2)
            if exists(bias):
                bias = F.pad(bias, (null_k.shape[-2], 0))
        dropout = self.dropout if self.training else 0.0
        if k.shape[-2] == 1 and not dropout:  # one key (causal time attention over one frame): its weight is 1
            return self.to_out(rearrange(v.expand(-1, -1, q.shape[-2], -1), "b h n d -> b n (h d)"))
        q = F.normalize(q, dim=-1) * self.q_scale
        k = F.normalize(k, dim=-1) * self.k_scale
        if exists(bias) and bias.dim() < 4 and not self.causal and not dropout:
            bias = bias.to(q.dtype)
            if torch.is_grad_enabled():
                out = BiasedAttention.apply(q, k, v, bias, 8.0, 4)
            else:
                out = fused_attention(q, k, v, bias, 8.0)[0]
        else:
            fused_causal = self.causal and not exists(bias) and q.shape[-2] == k.shape[-2]
            mask = None if fused_causal else self._mask(bias, q.shape[-2], k.shape[-2], q)
            out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, is_causal=fused_causal, dropout_p=dropout, scale=8.0)
        return self.to_out(rearrange(out, "b h n d -> b n (h d)"))

    def _mask(self, bias: torch.Tensor | None, n: int, m: int, like: torch.Tensor) -> torch.Tensor | None:
        if not self.causal:
            return bias.to(like.dtype) if exists(bias) else None
        future = torch.ones(n, m, dtype=torch.bool, device=like.device).triu(m - n + 1)
        causal = torch.zeros(n, m, dtype=like.dtype, device=like.device).masked_fill(future, float("-inf"))
        return causal + bias.to(like.dtype) if exists(bias) else causal


class FeedForward(nn.Module):
    """Pre-norm GEGLU feed-forward."""

    def __init__(self, dim: int, mult: float = 4.0, dropout: float = 0.0):
        super().__init__()
        inner = int(mult * (2 / 3) * dim)
        self.norm = nn.LayerNorm(dim)
        self.proj_in = nn.Linear(dim, 2 * inner, bias=False)
        self.dropout = nn.Dropout(dropout)
        self.proj_out = nn.Linear(inner, dim, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        value, gate = self.proj_in(self.norm(x)).chunk(2, dim=-1)
        return self.proj_out(self.dropout(value * F.gelu(gate)))


class PEG(nn.Module):
    """Position encoding generator: a depthwise 3x3x3 convolution over `b t h w d`, causal in time.
    The first frame's past is zeros (published) or copies of the first frame ("replicate")."""

    def __init__(self, dim: int, time_padding: str = "zeros"):
        super().__init__()
        self.conv = nn.Conv3d(dim, dim, kernel_size=3, groups=dim)
        self.time_padding = time_padding

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = rearrange(x, "b t h w d -> b d t h w")
        if self.time_padding == "replicate":
            x = torch.cat((x[:, :, :1], x[:, :, :1], x), dim=2)
            x = self.conv(F.pad(x, (1, 1, 1, 1)))
        else:
            x = self.conv(F.pad(x, (1, 1, 1, 1, 2, 0)))
        return rearrange(x, "b d t h w -> b t h w d")
