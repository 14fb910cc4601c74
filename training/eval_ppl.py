#!/usr/bin/python3
"""Perplexity of a text under a GGUF model this project wrote, computed with PyTorch.

    /usr/bin/python3 training/eval_ppl.py --model models/troupe-tiny-en.gguf \\
        --file training/heldout.txt [--ctx 256] [--json training/heldout_ppl.json]

The definition troupe's `troupe perplexity` implements too: tokenize the whole file
(special-token text such as <|im_start|> parsed as the special token, no BOS), cut the ids into
consecutive windows of --ctx tokens (the last one may be shorter), run each window from an
empty context and score tokens 1..len-1 of it: nll = mean of -log p(token | window prefix),
ppl = exp(nll). Weights and vocabulary come from the GGUF file itself (read with gguf_io), so
this checks the committed file, not the training checkpoint. Prints one JSON object.
"""
import argparse
import json
import math
import os
import sys

import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import bpe  # noqa: E402
from export_gguf import model_from_gguf  # noqa: E402


@torch.no_grad()
def perplexity(model, ids, ctx):
    total, count = 0.0, 0
    for start in range(0, len(ids), ctx):
        win = ids[start:start + ctx]
        if len(win) < 2:
            continue
        x = torch.tensor([win], dtype=torch.int64)
        logits = model(x)[0].double()
        total += F.cross_entropy(logits[:-1], x[0, 1:], reduction="sum").item()
        count += len(win) - 1
    nll = total / count
    return {"ppl": math.exp(nll), "nll_per_token": nll, "n_tokens": len(ids),
            "n_scored": count, "ctx": ctx}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--file", required=True)
    ap.add_argument("--ctx", type=int, default=256)
    ap.add_argument("--json", help="also write the result to this file")
    a = ap.parse_args()
    torch.set_num_threads(1)
    model, meta = model_from_gguf(a.model)
    if a.ctx > model.cfg.n_ctx:
        sys.exit(f"--ctx {a.ctx} exceeds the model's context {model.cfg.n_ctx}")
    tok = bpe.Tokenizer({"tokens": meta["tokenizer.ggml.tokens"],
                         "merges": meta["tokenizer.ggml.merges"]})
    with open(a.file) as f:
        ids = tok.encode(f.read())
    r = perplexity(model, ids, a.ctx)
    r["model"] = os.path.basename(a.model)
    r["file"] = os.path.basename(a.file)
    text = json.dumps(r, indent=2)
    print(text)
    if a.json:
        with open(a.json, "w") as f:
            f.write(text + "\n")


if __name__ == "__main__":
    main()
