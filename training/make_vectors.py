#!/usr/bin/python3
"""Write the test inputs derived from the held-out split (small, committed):

    /usr/bin/python3 training/make_vectors.py --work training/.work

  tests/data/model/tiny_en_tokens.txt  held-out sentences, chat snippets and a few odd strings
      with the ids this training pipeline's tokenizer (bpe.py) gives them, one case per line:
      escaped text, a TAB, the ids separated by spaces. Escapes: \\n newline, \\t tab, \\\\ backslash.
  training/heldout.txt  the first conversations of the held-out split (about 2,000 tokens), the
      text the perplexity cross-check runs on.
"""
import argparse
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import bpe  # noqa: E402

ODD = ["Hello, world!", "  two leading spaces and trailing  ", "a\n\nb\n", "tabs\tand\tmore",
       "It's 1,234.56 dollars -- isn't it?", "(parenthesised) [bracketed] {braced}",
       "MIXED case Words and ALLCAPS", "x", " ", "\n", "zzzzqqqq xylophone 0123456789",
       "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n"]


def escape(s):
    return s.replace("\\", "\\\\").replace("\n", "\\n").replace("\t", "\\t")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--work", default=os.path.join(HERE, ".work"))
    ap.add_argument("--cases", type=int, default=120)
    ap.add_argument("--heldout-chars", type=int, default=8000)
    a = ap.parse_args()
    tok = bpe.Tokenizer.load(os.path.join(a.work, "tokenizer.json"))
    with open(os.path.join(a.work, "test.txt")) as f:
        test = f.read()
    convs = [c + "<|im_end|>\n" for c in test.split("<|im_end|>\n") if c]
    # held-out sentences: the text between "<|im_start|>role\n" and "<|im_end|>"
    sents = [c.split("\n", 1)[1].rsplit("<|im_end|>", 1)[0] for c in convs if "\n" in c]
    step = max(1, len(sents) // a.cases)
    cases = sents[::step][:a.cases] + ODD + ["".join(convs[:3])]
    out = os.path.join(HERE, "..", "tests", "data", "model")
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "tiny_en_tokens.txt"), "w") as f:
        for c in cases:
            f.write(escape(c) + "\t" + " ".join(map(str, tok.encode(c))) + "\n")
    heldout, n = [], 0
    whole = [c for c in test.split("<|im_start|>user\n") if c]
    for c in whole:
        conv = "<|im_start|>user\n" + c
        if n + len(conv) > a.heldout_chars:
            break
        heldout.append(conv)
        n += len(conv)
    with open(os.path.join(HERE, "heldout.txt"), "w") as f:
        f.write("".join(heldout))
    print(f"{len(cases)} tokenizer cases; heldout.txt {n} chars, "
          f"{len(tok.encode(''.join(heldout)))} tokens")


if __name__ == "__main__":
    main()
