#!/usr/bin/env python3
"""Generate tests/fixtures/ru_numerals_genitive.tsv: golden Russian numerals in the genitive case
(«в течение двадцати одного дня», «суммы двенадцати тысяч трёхсот сорока пяти рублей шестидесяти
семи копеек»). The nominative table is scripts/gen-ru-numerals.py's.

Run from anywhere:  python3 scripts/gen-ru-numerals-cases.py
Needs:  pip install pytils==0.4.4 num2words==0.5.14
The output is deterministic (fixed seed, sorted, de-duplicated per kind).
Format: UTF-8, LF, tab-separated, header `kind<TAB>input<TAB>expected`.
  m / f  integer -> words in the genitive, masculine / feminine: 21 -> "двадцати одного" /
         "двадцати одной"; 1000 -> "одной тысячи", 2000 -> "двух тысяч", 10**6 -> "одного миллиона"
  rub    amount in kopecks -> "<rubles> рубля|рублей <kopecks> копейки|копеек", all in the genitive
         (kopecks always written: 200 -> "двух рублей ноля копеек"; 0 rubles -> "ноля рублей")
Conventions: lower case, single spaces, no "и"; zero is "ноля" (genitive of "ноль", which the
nominative table uses; num2words says the same); always "ё": трёх, четырёх, трёхсот, четырёхсот.
A noun (or тысяча/миллион/миллиард) takes the genitive singular after a number ending in 1 but
not 11 (одного рубля, двадцати одной тысячи) and the genitive plural otherwise (двух рублей,
одиннадцати тысяч).
Words come from num2words (case="genitive"), spelt with "ё" where it writes "е", with one known
bug mended: for gender="f" it puts the feminine "одной" before миллиона/миллиарда ("одной
миллиона"); these scale words are masculine, so "одного миллиона". A hand-written reference below
must then agree on every row, and every row must have as many words as pytils' nominative;
any disagreement fails the run and lists the rows.
"""
import os
import random
import re
import sys

import importlib.util

from num2words import num2words
from pytils import numeral

# The seeded sampler is shared with the nominative generator (same directory).
_spec = importlib.util.spec_from_file_location(
    "gen_ru_numerals", os.path.join(os.path.dirname(os.path.abspath(__file__)), "gen-ru-numerals.py"))
_nominative = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_nominative)
log_uniform = _nominative.log_uniform

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "tests", "fixtures", "ru_numerals_genitive.tsv")
WORDS = re.compile(r"^[а-яё]+( [а-яё]+)*$")
SPECIAL = [1, 2, 5, 11, 12, 13, 14, 21, 22, 25, 101, 102, 111, 112, 1000, 1001, 1002, 2000, 2001,
           2002, 5000, 11000, 12000, 21000, 22000, 100000, 101000, 102000, 999999, 1000000,
           1000001, 1000002, 1001000, 1002003, 2000000, 5000000, 11000000, 21000000, 22000000,
           100000000, 500000500, 999999999, 1000000000, 1000000001, 2000000000, 2001001001,
           123456789]
RUB_SPECIAL = [0, 1, 2, 5, 11, 21, 100, 101, 102, 105, 111, 121, 122, 200, 500, 1100, 1101, 2100,
               2101, 2102, 2200, 10000, 100000, 1234567, 100000000, 100000001, 200000022,
               2100000001, 99999999999, 10**11]
RANDOM_INTS = 200   # 4- to 9-digit numbers, on top of 0..1000 and SPECIAL
RUB_ROWS = 300      # RUB_SPECIAL plus random amounts of 1 to 11 digits
YO = {"трех": "трёх", "четырех": "четырёх", "трехсот": "трёхсот", "четырехсот": "четырёхсот"}

# Hand-written reference: genitive forms, index = digit.
REF_ONES = {"m": ["", "одного", "двух", "трёх", "четырёх", "пяти", "шести", "семи", "восьми",
                  "девяти"]}
REF_ONES["f"] = ["", "одной"] + REF_ONES["m"][2:]
REF_TEENS = ["десяти", "одиннадцати", "двенадцати", "тринадцати", "четырнадцати", "пятнадцати",
             "шестнадцати", "семнадцати", "восемнадцати", "девятнадцати"]
REF_TENS = ["", "", "двадцати", "тридцати", "сорока", "пятидесяти", "шестидесяти", "семидесяти",
            "восьмидесяти", "девяноста"]
REF_HUNDREDS = ["", "ста", "двухсот", "трёхсот", "четырёхсот", "пятисот", "шестисот", "семисот",
                "восьмисот", "девятисот"]
# scale, gender of the scale word, its genitive singular / plural
REF_SCALES = [(10**9, "m", "миллиарда", "миллиардов"), (10**6, "m", "миллиона", "миллионов"),
              (10**3, "f", "тысячи", "тысяч"), (1, None, None, None)]


def genitive_noun(n, singular, plural):
    """Genitive singular after ...1 (not ...11), genitive plural otherwise."""
    return singular if n % 10 == 1 and n % 100 != 11 else plural


def ref_words(n, gender):
    """Independent genitive cardinal, 0 <= n < 10**12."""
    assert 0 <= n < 10**12, n
    if n == 0:
        return "ноля"
    out = []
    for scale, scale_gender, sg, pl in REF_SCALES:
        group, n = divmod(n, scale)
        if group == 0:
            continue
        h, t, o = group // 100, group // 10 % 10, group % 10
        out += [REF_HUNDREDS[h]]
        out += [REF_TEENS[o]] if t == 1 else [REF_TENS[t], REF_ONES[scale_gender or gender][o]]
        if sg:
            out.append(genitive_noun(group, sg, pl))
    return " ".join(w for w in out if w)


class Library:
    """num2words' genitive, 'ё'-spelt and with its feminine-before-million bug mended."""

    def __init__(self):
        self.yo_words = 0      # words respelt е -> ё
        self.mended_rows = 0   # rows where "одной миллиона/миллиарда" was mended

    def words(self, n, gender):
        raw = num2words(n, lang="ru", case="genitive", gender=gender)
        t = raw.split()
        for i, w in enumerate(t):
            if w in YO:
                t[i] = YO[w]
                self.yo_words += 1
        mended = False
        for i in range(len(t) - 1):
            if t[i] == "одной" and t[i + 1].startswith(("миллион", "миллиард")):
                t[i] = "одного"
                mended = True
        self.mended_rows += mended
        s = " ".join(t)
        assert WORDS.match(s) and " и " not in s, (n, gender, raw)
        return s


def rub_phrase(kop, words):
    r, k = divmod(kop, 100)
    return (f"{words(r, 'm')} {genitive_noun(r, 'рубля', 'рублей')} "
            f"{words(k, 'f')} {genitive_noun(k, 'копейки', 'копеек')}")


def nominative(n, kind):
    """pytils' nominative, for the word-count check."""
    if kind == "rub":
        r, k = divmod(n, 100)
        return (numeral.sum_string(r, numeral.MALE, ("рубль", "рубля", "рублей")) + " "
                + numeral.sum_string(k, numeral.FEMALE, ("копейка", "копейки", "копеек")))
    return numeral.sum_string(n, numeral.MALE if kind == "m" else numeral.FEMALE)


def main():
    rng = random.Random(20240612)
    base = sorted(set(range(0, 1001)) | set(SPECIAL) | log_uniform(rng, 4, 9, RANDOM_INTS, SPECIAL))
    amounts = sorted(set(RUB_SPECIAL)
                     | log_uniform(rng, 1, 11, RUB_ROWS - len(set(RUB_SPECIAL)), RUB_SPECIAL))
    inputs = [(kind, n) for kind in ("m", "f") for n in base] + [("rub", k) for k in amounts]

    lib = Library()
    rows, diffs = [], []
    for kind, n in inputs:
        if kind == "rub":
            ours, ref = rub_phrase(n, lib.words), rub_phrase(n, ref_words)
        else:
            ours, ref = lib.words(n, kind), ref_words(n, kind)
        if ours != ref:
            diffs.append(f"{kind}\t{n}\tnum2words: {ours}\treference: {ref}")
        elif len(ours.split()) != len(nominative(n, kind).split()):
            diffs.append(f"{kind}\t{n}\tgenitive: {ours}\tpytils nominative: {nominative(n, kind)}")
        rows.append((kind, n, ours))
    if diffs:
        sys.exit(f"{len(diffs)} rows disagree, nothing written:\n" + "\n".join(diffs))

    with open(OUT, "w", encoding="utf-8", newline="\n") as f:
        f.write("kind\tinput\texpected\n")
        for kind, n, s in rows:
            f.write(f"{kind}\t{n}\t{s}\n")
    counts = {k: sum(1 for r in rows if r[0] == k) for k in ("m", "f", "rub")}
    print(f"wrote {len(rows)} rows to {os.path.relpath(OUT, ROOT)}: {counts}; "
          f"words respelt with ё: {lib.yo_words}; "
          f"num2words 'одной миллиона/миллиарда' rows mended: {lib.mended_rows}")


if __name__ == "__main__":
    main()
