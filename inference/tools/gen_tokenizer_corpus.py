#!/usr/bin/python3
"""Writes tests/data/tokenizer/corpus.inp: inputs (separated like llama.cpp's .inp files) that
stress the tokenizers beyond llama.cpp's own vectors: chat markup with special tokens,
contractions in any case, digits, white-space runs, many scripts, combining marks, emoji
sequences, unassigned and private-use code points, and invalid UTF-8. Expected ids come from
llama.cpp (inference/tools/llama_tokenize_oracle.cpp), see tests/data/tokenizer/README.md.
"""
import sys

cases = [
    "<|im_start|>system\nYou are a helpful agent.<|im_end|>\n<|im_start|>user\nHi!<|im_end|>\n<|im_start|>assistant\n",
    "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nWhat's 2+2?<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n",
    "<s>[INST] <<SYS>>\nBe brief.\n<</SYS>>\n\nHello there [/INST] Hi. </s><s>[INST] And you? [/INST]",
    "first part<|endoftext|>second part",
    "<|im_end|><|im_end|>  <|im_start|>",
    "I'M SURE HE'LL SAY THEY'RE FINE, WE'VE SEEN IT'S TRUE AND I'D AGREE",
    "don't won't can't y'all o'clock rock'n'roll 'quoted' ''double''",
    "1 12 123 1234 12345 123456 1234567 3.14159 -42 1e10 0x1F 1,000,000",
    "٣٤٥ ١٢ ½ ¾ Ⅻ ⑦ ２０２６年",
    "tabs\tand\t\ttabs\n\nnewlines\r\nwindows\r\n\r\n  indented\n    more\n\t\tmixed \t \n",
    "trailing spaces   ",
    "   leading spaces",
    "non\u00a0breaking\u3000ideographic\u2003em\u2028line\u0085next",
    "Ελληνικά κείμενα με τόνους. Русский текст, ёлка! Українська мова: ґ, є, ї.",
    "العربية مع التشكيل: مُحَمَّد. עברית עם ניקוד: שָׁלוֹם",
    "हिन्दी में लिखा गया वाक्य। தமிழ் எழுத்துக்கள் ภาษาไทยไม่มีช่องว่าง",
    "日本語の文章です。カタカナとひらがな。中文句子，没有空格。한국어 문장입니다.",
    "e\u0301 a\u0308 n\u0303 combining: Z\u0351\u036b\u0343a\u0362l\u0352g\u0310o",
    "👩‍👩‍👧‍👦 family, 👍🏽 thumbs, 🇫🇷 flag, ❤️ heart, 1️⃣ keycap",
    "unassigned \u0378\u0379 private \ue000\uf8ff plane15 \U000F0000 nonchar \ufffe",
    "def f(x):\n    return x**2 + 1  # comment\n\nprint(f(3))\n",
    "#include <stdio.h>\nint main(void) { printf(\"%d\\n\", 42); return 0; }",
    "{\"key\": [1, 2.5, null, true], \"nested\": {\"a\": \"b\"}}",
    "URL: https://example.com/path?q=1&r=two#frag e-mail: someone@example.org",
    "!!!??? ... --- ___ *** ~~~ ``` ||| <<< >>> === +++ $$$ %%% ^^^",
    "MixedCASE camelCase snake_case kebab-case SCREAMING_CASE",
    "a" * 300,
    " ".join(["word"] * 60),
    "\n",
    "\n\n\n",
    " \n \n ",
    "'",
    "'s",
    " 's",
    "x'S'T'RE'VE'M'LL'D",
]
invalid = [
    b"invalid \xff byte",
    b"truncated \xe2\x82 euro",
    b"lone continuation \x80\x81 bytes",
    b"overlong \xc0\xaf slash",
    b"\xf0\x9f\xa6",
]

sep = b"\n__ggml_vocab_test__\n"
out = sys.stdout.buffer
for c in cases:
    out.write(c.encode("utf-8") + sep)
for b in invalid:
    out.write(b + sep)
