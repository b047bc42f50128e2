#!/usr/bin/env python3
"""Generate the sample debtor files and the upload test fixtures.

Run from anywhere:  python3 scripts/gen-sample-data.py   (needs: pip install openpyxl)
The output is deterministic (seeded random, fixed XLSX timestamps).

data/sample/debtors.csv        UTF-8 (no BOM), ';', CRLF, 1C-style Russian header, 40 data rows
data/sample/debtors.cp1251.csv the same text in Windows-1251
  Deliberately invalid rows (data row = 1-based index after the header; file line = data row + 1):
    data row  7, line  8: phone                 "12345"
    data row 19, line 20: debt (Сумма долга)    "abc"
    data row 33, line 34: last payment date     "31.02.2026"
  Every other row is valid (data row 12 has an empty last payment date = never paid).
tests/fixtures/debtors.xlsx            5 rows: row 2 account is a numeric cell, row 3 debt is numeric
                                       1234.5, row 4 date is a real Excel date, row 5 phone is numeric
tests/fixtures/debtors-quoted.cp1251.csv  Windows-1251, ';', CRLF, every field quoted; row 1 has ';'
                                       inside quotes, row 2 a line break in the address (so row 3
                                       starts on file line 5), row 3 a doubled quote in the name
tests/fixtures/debtors-comma.csv       UTF-8 with BOM, ',', LF, English headers, dot decimals
"""
import csv
import datetime as dt
import io
import random
import re
import zipfile
from pathlib import Path

import openpyxl

ROOT = Path(__file__).resolve().parent.parent
HEADER = ["Лицевой счет", "ФИО", "Телефон", "Адрес", "Сумма долга, руб.", "Пени, руб.",
          "Месяцев просрочки", "Дата последней оплаты", "Долг по услугам", "Соглашение о погашении"]
AS_OF = dt.date(2026, 11, 1)
BAD_PHONE, BAD_DEBT, BAD_DATE = 7, 19, 33  # 1-based data rows, see the docstring
NO_PAYMENT = 12

SURNAMES = ["Иванов", "Петров", "Смирнов", "Кузнецов", "Попов", "Морозов", "Новиков", "Фёдоров",
            "Волков", "Соловьёв", "Лебедев", "Козлов", "Зайцев", "Захаров", "Галиев", "Сафин",
            "Ахметов", "Шайхутдинов", "Белоусов", "Ершов", "Коновалов", "Тарасов", "Яковлев"]
MALE = ["Александр", "Сергей", "Андрей", "Дмитрий", "Алексей", "Игорь", "Рустам", "Олег", "Виктор"]
FEMALE = ["Елена", "Ольга", "Наталья", "Ирина", "Татьяна", "Светлана", "Гульнара", "Марина", "Анна"]
FATHERS = [("Иванович", "Ивановна"), ("Сергеевич", "Сергеевна"), ("Петрович", "Петровна"),
           ("Николаевич", "Николаевна"), ("Викторович", "Викторовна"), ("Рашидович", "Рашидовна"),
           ("Алексеевич", "Алексеевна"), ("Юрьевич", "Юрьевна"), ("Андреевич", "Андреевна")]
PLACES = ["г. Сургут", "г. Нижневартовск", "г. Ханты-Мансийск", "г. Нефтеюганск", "г. Когалым",
          "г. Лангепас", "Сургутский р-н, пгт. Фёдоровский", "Сургутский р-н, пгт. Белый Яр",
          "Нижневартовский р-н, пгт. Излучинск", "Ханты-Мансийский р-н, п. Горноправдинск",
          "Берёзовский р-н, пгт. Игрим", "Кондинский р-н, пгт. Междуреченский"]
STREETS = ["ул. Ленина", "ул. Мира", "ул. Нефтяников", "ул. Энтузиастов", "пр. Победы",
           "ул. 30 лет Победы", "ул. Геологов", "ул. Таёжная", "ул. Молодёжная", "ул. Строителей"]
SERVICES = ["ХВС", "ГВС", "отопление", "водоотведение", "электроснабжение", "обращение с ТКО"]


def rub(kop):
    """12345678 kopecks -> '123 456,78' (1C style: space thousands, comma decimals)."""
    r, k = divmod(kop, 100)
    return f"{r:,}".replace(",", " ") + f",{k:02d}"


def phone(rng):
    code, a, b, c = rng.randint(900, 999), rng.randint(0, 999), rng.randint(0, 99), rng.randint(0, 99)
    n = f"{code}{a:03d}{b:02d}{c:02d}"
    return rng.choice([
        f"+7 {code} {a:03d} {b:02d} {c:02d}", f"7{n}", f"+7{n}", f"8{n}",
        f"8 ({code}) {a:03d}-{b:02d}-{c:02d}", f"8-{code}-{a:03d}-{b:02d}{c:02d}"])


def person(rng):
    surname, female = rng.choice(SURNAMES), rng.random() < 0.55
    if female:
        surname = surname[:-2] + "ая" if surname.endswith("ий") else surname + "а"
    first = rng.choice(FEMALE if female else MALE)
    return f"{surname} {first} {rng.choice(FATHERS)[female]}"


def address(rng):
    place = rng.choice(PLACES)
    house = f"ХМАО-Югра, {place}, {rng.choice(STREETS)}, д. {rng.randint(1, 60)}"
    if place.startswith("г.") or rng.random() < 0.6:
        house += f", кв. {rng.randint(1, 120)}"
    return house


def sample_row(rng, i, account):
    phones = [phone(rng) for _ in range(2 if rng.random() < 0.15 else 1)]
    sep = "; " if i == 25 else ", "  # one cell separates two numbers with ';' (needs quoting)
    if i == 25 and len(phones) == 1:
        phones.append(phone(rng))
    services = [(s, rng.randint(30_000, 1_800_000)) for s in rng.sample(SERVICES, rng.randint(1, 3))]
    total = sum(k for _, k in services)
    penalty = 0 if rng.random() < 0.2 else total * rng.randint(1, 12) // 100
    months = rng.randint(1, 36)
    paid = AS_OF - dt.timedelta(days=30 * months + rng.randint(0, 25))
    row = [account, person(rng), sep.join(phones), address(rng), rub(total), rub(penalty), str(months),
           "" if i == NO_PAYMENT else paid.strftime("%d.%m.%Y"),
           "; ".join(f"{s}: {rub(k)}" for s, k in services), "да" if rng.random() < 0.1 else "нет"]
    if i == BAD_PHONE:
        row[2] = "12345"
    elif i == BAD_DEBT:
        row[4] = "abc"
    elif i == BAD_DATE:
        row[7] = "31.02.2026"
    return row


def write_csv(path, rows, encoding, delimiter=";", quoting=csv.QUOTE_MINIMAL, newline="\r\n"):
    buf = io.StringIO(newline="")
    csv.writer(buf, delimiter=delimiter, quoting=quoting, lineterminator=newline).writerows(rows)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(buf.getvalue().encode(encoding))


def sample_files():
    rng = random.Random(20261101)
    accounts = rng.sample(range(1_000_000_000, 10_000_000_000), 40)
    rows = [HEADER] + [sample_row(rng, i, str(a)) for i, a in enumerate(accounts, 1)]
    write_csv(ROOT / "data/sample/debtors.csv", rows, "utf-8")
    write_csv(ROOT / "data/sample/debtors.cp1251.csv", rows, "cp1251")


def xlsx_fixture():
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Должники"
    ws.append(HEADER)
    ws.append(["8601000101", "Галиева Гульнара Рашидовна", "8 (922) 401-15-73",
               "ХМАО-Югра, г. Сургут, ул. Мира, д. 12, кв. 45", "2 726,36", "245,37", 2, "19.01.2026",
               "обращение с ТКО: 2 726,36", "нет"])
    ws.append([8601000102, "Петров Игорь Сергеевич", "+7 912 345 67 89",
               "ХМАО-Югра, г. Когалым, ул. Нефтяников, д. 3, кв. 7", "7 519,24", "0,00", 12, "14.09.2026",
               "электроснабжение: 7 519,24", "да"])
    ws.append(["8601000103", "Сафина Марина Юрьевна", "89045556677",
               "ХМАО-Югра, Сургутский р-н, пгт. Белый Яр, ул. Таёжная, д. 8", 1234.5, "61,73", 3,
               "02.08.2026", "ХВС: 1 234,50", "нет"])
    ws.append(["8601000104", "Ершов Олег Викторович", "8-950-123-4567",
               "ХМАО-Югра, г. Нижневартовск, пр. Победы, д. 21, кв. 90", "15 568,53", "1 868,22", 8,
               dt.date(2026, 3, 14), "отопление: 10 706,88; ХВС: 4 861,65", "нет"])
    ws.append(["8601000105", "Зайцева Анна Петровна", 79123456789,
               "ХМАО-Югра, г. Ханты-Мансийск, ул. Геологов, д. 5, кв. 11", "3 673,54", "440,82", 2,
               "19.09.2026", "водоотведение: 2 868,91; отопление: 804,63", "нет"])
    ws["H5"].number_format = "DD.MM.YYYY"
    ws["A3"].number_format = "0"
    ws["E4"].number_format = "#,##0.00"
    for col, width in zip("ABCDEFGHIJ", (14, 30, 20, 55, 12, 10, 10, 12, 40, 12)):
        ws.column_dimensions[col].width = width
    wb.properties.creator = "gen-sample-data.py"
    buf = io.BytesIO()
    wb.save(buf)
    # openpyxl stamps "now" into docProps/core.xml and the zip entries; pin both for reproducibility
    src = zipfile.ZipFile(buf)
    out = ROOT / "tests/fixtures/debtors.xlsx"
    out.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            data = src.read(info.filename)
            if info.filename == "docProps/core.xml":
                data = re.sub(rb"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", b"2026-11-01T00:00:00Z", data)
            dst.writestr(zipfile.ZipInfo(info.filename, (2026, 11, 1, 0, 0, 0)), data,
                         zipfile.ZIP_DEFLATED)


def csv_fixtures():
    quoted = [HEADER,
              ["8601000201", "Коновалова Ольга Андреевна", "8 (932) 110-22-33",
               "ХМАО-Югра, г. Лангепас, ул. Ленина, д. 4, кв. 18", "3 673,54", "440,82", "2",
               "19.09.2026", "водоотведение: 2 868,91; отопление: 804,63", "нет"],
              ["8601000202", "Тарасов Алексей Николаевич", "+79221234567",
               "ХМАО-Югра, Кондинский р-н, пгт. Междуреченский,\nул. Молодёжная, д. 17", "1 348,90",
               "0,00", "2", "27.08.2026", "обращение с ТКО: 1 348,90", "нет"],
              ["8601000203", 'ООО "Север-Сервис"', "8-3467-35-12-00",
               "ХМАО-Югра, г. Ханты-Мансийск, ул. Энтузиастов, д. 9, пом. 2", "24 380,88", "1 706,66",
               "24", "04.03.2026", "ХВС: 24 380,88", "да"],
              ["8601000204", "Яковлева Светлана Игоревна", "8 (919) 555-01-02; 89193330011",
               "ХМАО-Югра, г. Нефтеюганск, ул. Строителей, д. 30, кв. 6", "9 604,56", "0,00", "6",
               "25.04.2026", "ГВС: 2 827,82; электроснабжение: 6 776,74", "нет"]]
    write_csv(ROOT / "tests/fixtures/debtors-quoted.cp1251.csv", quoted, "cp1251",
              quoting=csv.QUOTE_ALL)
    comma = [["account", "full_name", "phones", "address", "debt_total", "penalty", "months_overdue",
              "last_payment_date", "services", "agreement_active"],
             ["8601000301", "Морозов Дмитрий Олегович", "+7 904 456 78 90, 8-912-000-1122",
              "ХМАО-Югра, г. Сургут, ул. Геологов, д. 2, кв. 31", "2726.36", "245.37", "2",
              "2026-01-19", "обращение с ТКО: 2726.36", "yes"],
             ["8601000302", "Лебедева Татьяна Ивановна", "79825554433",
              "ХМАО-Югра, Берёзовский р-н, пгт. Игрим, ул. Таёжная, д. 11", "12345.60", "0.00", "5",
              "", "ХВС: 7000.00; отопление: 5345.60", "no"],
             ["8601000303", "Ахметов Рустам Рашидович", "8 (908) 765-43-21",
              "ХМАО-Югра, г. Когалым, ул. Мира, д. 7, кв. 64", "980.05", "12.10", "1", "2026-09-30",
              "электроснабжение: 980.05", ""]]
    write_csv(ROOT / "tests/fixtures/debtors-comma.csv", comma, "utf-8-sig", delimiter=",",
              newline="\n")


if __name__ == "__main__":
    sample_files()
    xlsx_fixture()
    csv_fixtures()
