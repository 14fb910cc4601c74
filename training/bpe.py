#!/usr/bin/python3
"""A small, deterministic byte-level BPE (GGUF tokenizer.ggml.model = "gpt2", pre = "gpt-2").

    /usr/bin/python3 training/bpe.py --work training/.work --vocab 4096

trains on WORK/train.txt and writes WORK/tokenizer.json ({"tokens": [...], "merges": [...]}).

Vocabulary layout: ids 0..255 are the 256 single bytes (GPT-2's byte -> printable character
mapping), then one token per merge in merge order, then the special tokens <|endoftext|>,
<|im_start|>, <|im_end|> (the last three ids). Words come from the GPT-2 pre-tokenizer regex;
this module implements it for ASCII text only (prepare_data.py makes the corpus ASCII), where
\\p{L} is [A-Za-z] and \\p{N} is [0-9]. Encoding a word applies the lowest-rank merge first
(all its occurrences, left to right) until none applies, as GPT-2 and llama.cpp do.

Training: count pre-tokenized words, then repeatedly merge the most frequent adjacent pair
(ties: the lexicographically smallest pair of pieces), with a lazily updated heap.
"""
import argparse
import heapq
import json
import os
import re
from collections import Counter, defaultdict

SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
SPECIAL_RE = re.compile("(" + "|".join(re.escape(s) for s in SPECIALS) + ")")
PRETOK_RE = re.compile(
    r"'s|'t|'re|'ve|'m|'ll|'d| ?[A-Za-z]+| ?[0-9]+| ?[^\sA-Za-z0-9]+|\s+(?!\S)|\s+")


def bytes_to_unicode():
    """GPT-2's reversible byte -> printable character mapping."""
    bs = (list(range(ord("!"), ord("~") + 1)) + list(range(ord("\xa1"), ord("\xac") + 1))
          + list(range(ord("\xae"), ord("\xff") + 1)))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return {b: chr(c) for b, c in zip(bs, cs)}


BYTE_CHARS = bytes_to_unicode()


def word_symbols(word):
    return [BYTE_CHARS[b] for b in word.encode("utf-8")]


def pretokenize(text):
    assert text.isascii(), "this BPE implements the GPT-2 pre-tokenizer for ASCII text only"
    return PRETOK_RE.findall(text)


def split_specials(text):
    """Yields (is_special, piece) in order."""
    for i, part in enumerate(SPECIAL_RE.split(text)):
        if part:
            yield i % 2 == 1, part


def train(text, vocab_size):
    words = Counter()
    for is_special, part in split_specials(text):
        if not is_special:
            words.update(pretokenize(part))
    syms = [word_symbols(w) for w in words]
    freq = [words[w] for w in words]
    pair_count = defaultdict(int)
    pair_words = defaultdict(set)
    for wi, s in enumerate(syms):
        for a, b in zip(s, s[1:]):
            pair_count[(a, b)] += freq[wi]
            pair_words[(a, b)].add(wi)
    heap = [(-c, p) for p, c in pair_count.items()]
    heapq.heapify(heap)
    merges = []
    n_merges = vocab_size - 256 - len(SPECIALS)
    while len(merges) < n_merges and heap:
        negc, pair = heapq.heappop(heap)
        if pair_count.get(pair, 0) != -negc or negc == 0:
            continue  # stale entry
        merges.append(pair)
        merged = pair[0] + pair[1]
        touched = set()
        for wi in sorted(pair_words[pair]):
            s = syms[wi]
            f = freq[wi]
            for a, b in zip(s, s[1:]):
                pair_count[(a, b)] -= f
                touched.add((a, b))
            out = []
            i = 0
            while i < len(s):
                if i + 1 < len(s) and s[i] == pair[0] and s[i + 1] == pair[1]:
                    out.append(merged)
                    i += 2
                else:
                    out.append(s[i])
                    i += 1
            syms[wi] = out
            for a, b in zip(out, out[1:]):
                pair_count[(a, b)] += f
                pair_words[(a, b)].add(wi)
                touched.add((a, b))
        del pair_words[pair]
        pair_count.pop(pair, None)
        for p in touched:
            c = pair_count.get(p, 0)
            if c > 0:
                heapq.heappush(heap, (-c, p))
            else:
                pair_count.pop(p, None)
    tokens = [BYTE_CHARS[b] for b in range(256)] + [a + b for a, b in merges] + SPECIALS
    return {"tokens": tokens, "merges": [f"{a} {b}" for a, b in merges]}


class Tokenizer:
    def __init__(self, vocab):
        self.tokens = vocab["tokens"]
        self.ids = {t: i for i, t in enumerate(self.tokens)}
        assert len(self.ids) == len(self.tokens), "duplicate pieces in the vocabulary"
        self.ranks = {tuple(m.split(" ")): r for r, m in enumerate(vocab["merges"])}
        self.cache = {}
        self.byte_of = {c: b for b, c in BYTE_CHARS.items()}

    @staticmethod
    def load(path):
        with open(path) as f:
            return Tokenizer(json.load(f))

    def encode_word(self, word):
        hit = self.cache.get(word)
        if hit is not None:
            return hit
        s = word_symbols(word)
        while len(s) > 1:
            best = min(((self.ranks.get(p, 1 << 30), i) for i, p in enumerate(zip(s, s[1:]))))
            if best[0] == 1 << 30:
                break
            a, b = s[best[1]], s[best[1] + 1]
            out, i = [], 0
            while i < len(s):
                if i + 1 < len(s) and s[i] == a and s[i + 1] == b:
                    out.append(a + b)
                    i += 2
                else:
                    out.append(s[i])
                    i += 1
            s = out
        ids = [self.ids[p] for p in s]
        self.cache[word] = ids
        return ids

    def encode(self, text):
        """Ids of `text`, special-token text parsed as the special token (no BOS added)."""
        out = []
        for is_special, part in split_specials(text):
            if is_special:
                out.append(self.ids[part])
            else:
                for w in pretokenize(part):
                    out.extend(self.encode_word(w))
        return out

    def decode(self, ids):
        parts = []
        for i in ids:
            t = self.tokens[i]
            if t in SPECIALS:
                parts.append(t.encode())
            else:
                parts.append(bytes(self.byte_of[c] for c in t))
        return b"".join(parts).decode("utf-8", "replace")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--work", default=os.path.join(os.path.dirname(__file__), ".work"))
    ap.add_argument("--vocab", type=int, default=4096)
    a = ap.parse_args()
    with open(os.path.join(a.work, "train.txt")) as f:
        text = f.read()
    vocab = train(text, a.vocab)
    with open(os.path.join(a.work, "tokenizer.json"), "w") as f:
        json.dump(vocab, f)
    tok = Tokenizer(vocab)
    sample = text[:2000]
    assert tok.decode(tok.encode(sample)) == sample
    print(f"vocab {len(vocab['tokens'])} merges {len(vocab['merges'])}")


if __name__ == "__main__":
    main()
