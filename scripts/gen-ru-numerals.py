#!/usr/bin/env python3
"""Generate tests/fixtures/ru_numerals.tsv: golden Russian numbers-in-words.

Run from anywhere:  python3 scripts/gen-ru-numerals.py
Needs:  pip install pytils==0.4.4 num2words==0.5.14 babel==2.19.0
The output is deterministic (fixed seed, sorted, de-duplicated per kind).
Format: UTF-8, LF, tab-separated, header `kind<TAB>input<TAB>expected`.
  m / f / n  integer -> words, masculine / feminine / neuter (pytils.numeral.sum_string)
  rub        amount in kopecks -> "<rubles> рубль|рубля|рублей <kopecks> копейка|копейки|копеек"
             (kopecks always written, "ноль копеек" when 0; 0 rubles -> "ноль рублей")
  plural     integer -> CLDR plural category for ru: one / few / many (babel)
Conventions (pytils): 1000 -> "одна тысяча", 1000000 -> "один миллион", 10**9 -> "один
миллиард"; lower case, single spaces, no "и", zero is "ноль".
Words come from pytils. num2words is a cross-check: it must agree everywhere except its
known gender bug before миллион/миллиард (num2words writes "одна миллион", "две миллиарда"
for f and "одно миллион" for n; pytils' "один миллион", "два миллиарда" is correct).
The genitive-case table, tests/fixtures/ru_numerals_genitive.tsv, is made by
scripts/gen-ru-numerals-cases.py.
"""
import os
import random
import re
from decimal import Decimal

from babel import Locale
from num2words import num2words
from pytils import numeral

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "tests", "fixtures", "ru_numerals.tsv")
GENDER = {"m": numeral.MALE, "f": numeral.FEMALE, "n": numeral.NEUTER}
RUB = ("рубль", "рубля", "рублей")
KOP = ("копейка", "копейки", "копеек")
WORDS = re.compile(r"^[а-яё]+( [а-яё]+)*$")
SPECIAL = [1, 2, 5, 11, 12, 13, 14, 21, 22, 25, 101, 102, 111, 112, 1000, 1001, 1002, 2000,
           2001, 2002, 5000, 11000, 12000, 21000, 22000, 100000, 101000, 102000, 999999,
           1000000, 1000001, 1000002, 1001000, 1002003, 2000000, 2000002, 5000000, 11000000,
           21000000, 22000000, 100000000, 500000500, 999999999, 1000000000, 1000000001,
           2000000000, 2001001001, 123456789]
RUB_SPECIAL = [0, 1, 2, 5, 11, 21, 100, 101, 102, 105, 111, 121, 122, 200, 500, 1100, 2101,
               2102, 2200, 10000, 100000, 1234567, 100000000, 100000001, 200000022,
               2100000001, 99999999999, 10**11]


def log_uniform(rng, min_digits, max_digits, count, exclude=()):
    """`count` distinct seeded integers, not in `exclude`, digit count uniform in the range."""
    out = set()
    while len(out) < count:
        d = rng.randint(min_digits, max_digits)
        n = rng.randrange(10 ** (d - 1) if d > 1 else 0, 10 ** d)
        if n not in exclude:
            out.add(n)
    return out


def words(n, kind):
    s = numeral.sum_string(n, GENDER[kind])
    assert WORDS.match(s) and " и " not in s, (n, kind, s)
    return s


def n2w_ok(n, kind, ours):
    """num2words must agree, except its gender bug in the million/milliard groups."""
    theirs = num2words(n, lang="ru", gender=kind).replace(",", "")
    if theirs == ours:
        return True
    fix = {"одна": "один", "одно": "один", "две": "два"}
    t = theirs.split()
    for i in range(len(t) - 1):
        if t[i + 1].startswith(("миллион", "миллиард")) and t[i] in fix:
            t[i] = fix[t[i]]
    return " ".join(t) == ours


def rub(kop):
    r, k = divmod(kop, 100)
    s = numeral.sum_string(r, numeral.MALE, RUB) + " " + numeral.sum_string(k, numeral.FEMALE, KOP)
    assert WORDS.match(s), (kop, s)
    amount = Decimal(kop) / 100
    assert numeral.rubles(amount.quantize(Decimal("0.01")), zero_for_kopeck=True) == s, kop
    n2w = num2words(amount.quantize(Decimal("0.01")), lang="ru", to="currency", currency="RUB")
    assert n2w.replace(",", "") == s, (kop, n2w, s)
    return s


def plural(n):
    cat = Locale("ru").plural_form(n)
    assert cat == numeral.choose_plural(n, ("one", "few", "many")), (n, cat)
    return cat


def main():
    rng = random.Random(20240611)
    rows = []
    base = sorted(set(range(0, 1001)) | set(SPECIAL) | log_uniform(rng, 4, 9, 300, SPECIAL))
    for kind in ("m", "f"):
        rows += [(kind, n, words(n, kind)) for n in base]
    neut = sorted(set(range(0, 31)) | {100, 101, 102, 121, 122, 200, 201} | set(SPECIAL)
                  | log_uniform(rng, 2, 9, 100, SPECIAL))
    rows += [("n", n, words(n, "n")) for n in neut]
    amounts = sorted(set(RUB_SPECIAL) | log_uniform(rng, 1, 11, 580, RUB_SPECIAL))
    rows += [("rub", k, rub(k)) for k in amounts]
    plur = sorted(set(range(0, 250)) | set(SPECIAL) | set(n + 1000 * i for i in range(1, 3)
                  for n in range(0, 30)) | log_uniform(rng, 3, 9, 200, SPECIAL))
    rows += [("plural", n, plural(n)) for n in plur]

    n2w_diffs = 0
    for kind, n, s in rows:
        if kind in GENDER and num2words(n, lang="ru", gender=kind) != s:
            assert n2w_ok(n, kind, s), (kind, n, s, num2words(n, lang="ru", gender=kind))
            n2w_diffs += 1
    with open(OUT, "w", encoding="utf-8", newline="\n") as f:
        f.write("kind\tinput\texpected\n")
        for kind, n, s in rows:
            f.write(f"{kind}\t{n}\t{s}\n")
    counts = {k: sum(1 for r in rows if r[0] == k) for k in ("m", "f", "n", "rub", "plural")}
    print(f"wrote {len(rows)} rows to {os.path.relpath(OUT, ROOT)}: {counts}; "
          f"num2words gender-bug rows (pytils kept): {n2w_diffs}")


if __name__ == "__main__":
    main()
