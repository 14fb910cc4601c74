#!/usr/bin/python3
"""Train the small Llama-architecture model on the tokenized Brown dialogues (1 CPU thread).

    /usr/bin/python3 training/train.py --work training/.work --steps N [--bench]

Reads WORK/train.txt, WORK/test.txt, WORK/tokenizer.json (prepare_data.py, bpe.py). Samples
random windows of n_ctx + 1 tokens from the training token stream (seeded), AdamW with linear
warm-up then cosine decay to lr_min, gradient clipping 1.0. Every --eval-every steps the
held-out loss (mean next-token NLL over non-overlapping n_ctx windows of test.txt) is logged.
Writes WORK/ckpt.pt, training/loss.csv and training/loss.png (if matplotlib is installed).
--bench times a few steps and exits (to size the model for the time budget).
"""
import argparse
import csv
import json
import math
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bpe  # noqa: E402
from model import config, llama  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))


def tokens_of(work, name, tok):
    cache = os.path.join(work, name + ".ids.npy")
    if os.path.exists(cache):
        return np.load(cache)
    with open(os.path.join(work, name + ".txt")) as f:
        ids = np.array(tok.encode(f.read()), dtype=np.int32)
    np.save(cache, ids)
    return ids


@torch.no_grad()
def heldout_nll(model, ids, n_ctx, max_windows=None):
    """Mean NLL of tokens 1..n_ctx-1 of each non-overlapping n_ctx window (each window starts
    with an empty context), in nats per predicted token; and the number of predicted tokens."""
    model.eval()
    total, count = 0.0, 0
    n_win = len(ids) // n_ctx
    if max_windows is not None:
        n_win = min(n_win, max_windows)
    for w in range(0, n_win, 16):
        batch = [ids[i * n_ctx:(i + 1) * n_ctx] for i in range(w, min(w + 16, n_win))]
        x = torch.from_numpy(np.stack(batch).astype(np.int64))
        logits = model(x)
        nll = F.cross_entropy(logits[:, :-1].reshape(-1, logits.size(-1)),
                              x[:, 1:].reshape(-1), reduction="sum")
        total += nll.item()
        count += x[:, 1:].numel()
    model.train()
    return total / max(count, 1), count


def lr_at(step, progress, lr, lr_min, warmup):
    """Linear warm-up over `warmup` steps, then cosine from lr to lr_min as progress goes 0->1."""
    if step < warmup:
        return lr * (step + 1) / warmup
    p = progress
    return lr_min + 0.5 * (lr - lr_min) * (1 + math.cos(math.pi * min(p, 1.0)))


def plot(csv_path, png_path):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib not installed: no loss.png")
        return
    steps, train, ev_steps, ev = [], [], [], []
    with open(csv_path) as f:
        for r in csv.DictReader(f):
            steps.append(int(r["step"]))
            train.append(float(r["train_loss"]))
            if r["heldout_loss"]:
                ev_steps.append(int(r["step"]))
                ev.append(float(r["heldout_loss"]))
    fig, ax = plt.subplots(figsize=(7, 4.2))
    ax.plot(steps, train, lw=0.6, alpha=0.6, label="train (batch)")
    ax.plot(ev_steps, ev, "o-", ms=3, label="held-out")
    ax.set_xlabel("step")
    ax.set_ylabel("loss (nats/token)")
    ax.set_title("troupe-tiny-en on the Brown corpus")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(png_path, dpi=110)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--work", default=os.path.join(HERE, ".work"))
    ap.add_argument("--steps", type=int, default=3000)
    ap.add_argument("--minutes", type=float, default=0,
                    help="train for this wall-clock time instead of --steps (cosine over time)")
    ap.add_argument("--eval-windows", type=int, default=40,
                    help="held-out windows scored at each periodic evaluation (all at the end)")
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--lr-min", type=float, default=3e-4)
    ap.add_argument("--warmup", type=int, default=100)
    ap.add_argument("--weight-decay", type=float, default=0.1)
    ap.add_argument("--eval-every", type=int, default=250)
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--n-embd", type=int, default=256)
    ap.add_argument("--n-layer", type=int, default=6)
    ap.add_argument("--n-head", type=int, default=8)
    ap.add_argument("--n-head-kv", type=int, default=4)
    ap.add_argument("--n-ff", type=int, default=768)
    ap.add_argument("--n-ctx", type=int, default=256)
    ap.add_argument("--out-csv", default=os.path.join(HERE, "loss.csv"))
    ap.add_argument("--out-png", default=os.path.join(HERE, "loss.png"))
    ap.add_argument("--bench", action="store_true")
    a = ap.parse_args()

    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    rng = np.random.default_rng(a.seed)
    tok = bpe.Tokenizer.load(os.path.join(a.work, "tokenizer.json"))
    train_ids = tokens_of(a.work, "train", tok)
    test_ids = tokens_of(a.work, "test", tok)
    cfg = config(n_vocab=len(tok.tokens), n_ctx=a.n_ctx, n_embd=a.n_embd, n_layer=a.n_layer,
                 n_head=a.n_head, n_head_kv=a.n_head_kv, n_ff=a.n_ff)
    model = llama(cfg)
    print(f"params {model.n_params()} train tokens {len(train_ids)} test tokens {len(test_ids)}",
          flush=True)
    decay = [p for n, p in model.named_parameters() if p.dim() >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": a.weight_decay},
                             {"params": no_decay, "weight_decay": 0.0}],
                            lr=a.lr, betas=(0.9, 0.95), eps=1e-8)
    steps = 8 if a.bench else (1 << 40 if a.minutes > 0 else a.steps)
    budget_s = a.minutes * 60
    t0 = time.time()
    rows = []
    ckpt_path = os.path.join(a.work, "ckpt.pt")

    def save(n_steps):
        torch.save({"config": cfg.to_dict(), "model": model.state_dict(), "seed": a.seed,
                    "args": vars(a), "steps": n_steps, "train_seconds": time.time() - t0},
                   ckpt_path)

    for step in range(steps):
        if a.bench and step == 3:
            t_bench = time.time()
        elapsed = time.time() - t0
        if budget_s > 0 and elapsed >= budget_s:
            break
        progress = elapsed / budget_s if budget_s > 0 else (step - a.warmup) / max(1, steps - a.warmup)
        lr = lr_at(step, max(progress, 0.0), a.lr, a.lr_min, a.warmup)
        for g in opt.param_groups:
            g["lr"] = lr
        starts = rng.integers(0, len(train_ids) - a.n_ctx - 1, size=a.batch)
        chunk = np.stack([train_ids[s:s + a.n_ctx + 1] for s in starts]).astype(np.int64)
        xy = torch.from_numpy(chunk)
        logits = model(xy[:, :-1])
        loss = F.cross_entropy(logits.reshape(-1, cfg.n_vocab), xy[:, 1:].reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        ev = ""
        if not a.bench and ((step + 1) % a.eval_every == 0 or step + 1 == steps):
            ev = f"{heldout_nll(model, test_ids, cfg.n_ctx, a.eval_windows)[0]:.4f}"
            save(step + 1)
        rows.append((step + 1, f"{lr:.6g}", f"{loss.item():.4f}", ev, f"{time.time() - t0:.1f}"))
        if ev or (step + 1) % 50 == 0:
            print(f"step {step + 1} lr {lr:.3g} loss {loss.item():.4f} heldout {ev or '-'} "
                  f"t {time.time() - t0:.0f}s", flush=True)
    if a.bench:
        dt = (time.time() - t_bench) / (steps - 3)
        print(f"bench: {dt:.3f} s/step, {a.batch * a.n_ctx / dt:.0f} tokens/s", flush=True)
        return
    train_s = time.time() - t0
    steps = len(rows)
    save(steps)
    nll, n = heldout_nll(model, test_ids, cfg.n_ctx)
    rows[-1] = rows[-1][:3] + (f"{nll:.4f}",) + rows[-1][4:]  # final row: the full held-out set
    with open(a.out_csv, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["step", "lr", "train_loss", "heldout_loss", "elapsed_s"])
        w.writerows(rows)
    with open(os.path.join(a.work, "train_summary.json"), "w") as f:
        json.dump({"params": model.n_params(), "steps": steps, "train_seconds": round(train_s, 1),
                   "final_train_loss_last50": float(np.mean([float(r[2]) for r in rows[-50:]])),
                   "heldout_loss": nll, "heldout_tokens": n, "args": vars(a)}, f, indent=2)
    print(f"done in {train_s:.0f}s: heldout loss {nll:.4f} over {n} tokens", flush=True)
    plot(a.out_csv, a.out_png)


if __name__ == "__main__":
    main()
