"""A small Llama-architecture model in PyTorch, laid out exactly as llama.cpp's arch "llama"
computes it from GGUF tensors, so export_gguf.py can write the weights unchanged:

  x = token_embd[ids]
  per block: h = x + attn_output(attn(rmsnorm(x) * attn_norm)); x = h + ffn_down(silu(ffn_gate(n)) * ffn_up(n))
             with n = rmsnorm(h) * ffn_norm
  logits = (rmsnorm(x) * output_norm) @ token_embd^T      (tied embeddings)

RoPE: llama.cpp applies rope mode 0 ("NORM") for arch llama: within each head the ADJACENT
pairs (x[2i], x[2i+1]) rotate by angle pos * freq_base^(-2i/head_dim). (HF checkpoints use the
two-halves convention and llama.cpp's converter permutes wq/wk to undo it; this model is trained
with adjacent pairs directly, so no permutation is needed at export.)
"""
import math
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn


@dataclass
class config:
    n_vocab: int = 4096
    n_ctx: int = 256
    n_embd: int = 256
    n_layer: int = 6
    n_head: int = 8
    n_head_kv: int = 4
    n_ff: int = 768
    rms_eps: float = 1e-5
    rope_base: float = 10000.0

    def to_dict(self):
        return asdict(self)


class rms_norm(nn.Module):
    def __init__(self, d, eps):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(d))
        self.eps = eps

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


def rope_tables(cfg, n_pos):
    hd = cfg.n_embd // cfg.n_head
    inv = cfg.rope_base ** (-torch.arange(0, hd, 2, dtype=torch.float64) / hd)  # (hd/2)
    ang = torch.arange(n_pos, dtype=torch.float64)[:, None] * inv[None, :]  # (pos, hd/2)
    return ang.cos().float(), ang.sin().float()


def apply_rope(x, cos, sin):
    # x: (batch, heads, seq, hd); pairs (2i, 2i+1) rotate together
    b, h, t, hd = x.shape
    xp = x.view(b, h, t, hd // 2, 2)
    x0, x1 = xp[..., 0], xp[..., 1]
    c, s = cos[:t], sin[:t]
    y0 = x0 * c - x1 * s
    y1 = x0 * s + x1 * c
    return torch.stack((y0, y1), dim=-1).view(b, h, t, hd)


class block(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        d, hd = cfg.n_embd, cfg.n_embd // cfg.n_head
        self.n_head, self.n_head_kv, self.hd = cfg.n_head, cfg.n_head_kv, hd
        self.attn_norm = rms_norm(d, cfg.rms_eps)
        self.wq = nn.Linear(d, cfg.n_head * hd, bias=False)
        self.wk = nn.Linear(d, cfg.n_head_kv * hd, bias=False)
        self.wv = nn.Linear(d, cfg.n_head_kv * hd, bias=False)
        self.wo = nn.Linear(cfg.n_head * hd, d, bias=False)
        self.ffn_norm = rms_norm(d, cfg.rms_eps)
        self.w_gate = nn.Linear(d, cfg.n_ff, bias=False)
        self.w_up = nn.Linear(d, cfg.n_ff, bias=False)
        self.w_down = nn.Linear(cfg.n_ff, d, bias=False)

    def forward(self, x, cos, sin, mask):
        b, t, _ = x.shape
        n = self.attn_norm(x)
        q = self.wq(n).view(b, t, self.n_head, self.hd).transpose(1, 2)
        k = self.wk(n).view(b, t, self.n_head_kv, self.hd).transpose(1, 2)
        v = self.wv(n).view(b, t, self.n_head_kv, self.hd).transpose(1, 2)
        q, k = apply_rope(q, cos, sin), apply_rope(k, cos, sin)
        rep = self.n_head // self.n_head_kv
        if rep > 1:  # head i uses kv head i // rep, as llama.cpp does
            k = k.repeat_interleave(rep, dim=1)
            v = v.repeat_interleave(rep, dim=1)
        att = (q @ k.transpose(-1, -2)) * (1.0 / math.sqrt(self.hd)) + mask[:t, :t]
        y = F.softmax(att, dim=-1) @ v  # (b, heads, t, hd)
        x = x + self.wo(y.transpose(1, 2).reshape(b, t, -1))
        n = self.ffn_norm(x)
        return x + self.w_down(F.silu(self.w_gate(n)) * self.w_up(n))


class llama(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.cfg = cfg
        self.tok_emb = nn.Embedding(cfg.n_vocab, cfg.n_embd)
        self.blocks = nn.ModuleList(block(cfg) for _ in range(cfg.n_layer))
        self.norm = rms_norm(cfg.n_embd, cfg.rms_eps)
        cos, sin = rope_tables(cfg, cfg.n_ctx)
        self.register_buffer("cos", cos, persistent=False)
        self.register_buffer("sin", sin, persistent=False)
        mask = torch.full((cfg.n_ctx, cfg.n_ctx), float("-inf")).triu(1)
        self.register_buffer("mask", mask, persistent=False)
        self.apply(self._init)
        for b in self.blocks:  # scaled init of the residual projections (GPT-2 style)
            nn.init.normal_(b.wo.weight, std=0.02 / math.sqrt(2 * cfg.n_layer))
            nn.init.normal_(b.w_down.weight, std=0.02 / math.sqrt(2 * cfg.n_layer))

    @staticmethod
    def _init(m):
        if isinstance(m, (nn.Linear, nn.Embedding)):
            nn.init.normal_(m.weight, std=0.02)

    def forward(self, ids):
        x = self.tok_emb(ids)
        for b in self.blocks:
            x = b(x, self.cos, self.sin, self.mask)
        return self.norm(x) @ self.tok_emb.weight.t()

    def n_params(self):
        return sum(p.numel() for p in self.parameters())


def load_checkpoint(path):
    ck = torch.load(path, map_location="cpu")
    m = llama(config(**ck["config"]))
    m.load_state_dict(ck["model"])
    m.eval()
    return m, ck
