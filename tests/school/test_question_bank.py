"""Question banks: validation, duplicates, CSV/XLSX import (encodings, bad rows) and export round trips."""

from __future__ import annotations

import io

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from dangxiao.errors import DomainError, Forbidden
from dangxiao.extensions import db
from dangxiao.policy import SYSTEM
from dangxiao.school import question_bank as qb
from dangxiao.school import question_io
from dangxiao.school.models import Category
from dangxiao.school.quiz_models import Question
from dangxiao.transactions import atomic

Q = qb.QuestionInput


def _bank(name: str) -> qb.Bank:
    with atomic():
        category = Category(name=name)
        db.session.add(category)
        db.session.flush()
        return qb.Bank(category_id=category.id)


def _count(bank: qb.Bank) -> int:
    return db.session.scalar(select(func.count()).select_from(Question).where(bank.where(), Question.active))


def _refused(fn, *args) -> DomainError:
    with pytest.raises(DomainError) as caught, atomic():
        fn(*args)
    return caught.value


def test_validation_duplicates_and_retire(ctx, create_user):
    from dangxiao.accounts.models import User

    bank, other = _bank("党章党规"), _bank("党史学习")
    create = qb.create_question
    assert _refused(create, SYSTEM, bank, Q("single", "题一", ["甲", "乙"], [0, 1])).code == "answer_count"
    assert _refused(create, SYSTEM, bank, Q("multiple", "题二", ["甲", "乙", "丙"], [0])).code == "answer_count"
    assert _refused(create, SYSTEM, bank, Q("single", "题三", ["甲"], [0])).code == "options_few"
    assert _refused(create, SYSTEM, bank, Q("single", "题四", list("ABCDEFGHI"), [0])).code == "options_many"
    assert _refused(create, SYSTEM, bank, Q("single", "题五", ["甲", "乙"], [3])).code == "answer_invalid"
    assert _refused(create, SYSTEM, bank, Q("essay", "题六", ["甲", "乙"], [0])).code == "kind_invalid"
    assert _refused(create, SYSTEM, bank, Q("single", "题七", ["甲", "乙"], [0], "", 4)).code == "difficulty_invalid"
    assert _refused(create, SYSTEM, bank, Q("truefalse", "题八", [], [])).code == "answer_count"
    assert _refused(create, SYSTEM, None, Q("single", "题九", ["甲", "乙"], [0])).code == "bank_invalid"

    with atomic():
        tf = create(SYSTEM, bank, Q("truefalse", "预备期为一年。", ["x"], [0], "党章规定。", 1))
        single = create(SYSTEM, bank, Q("single", "党的根本宗旨是什么？", ["服务", "", "发展"], [2], "", "2"))
    assert [o.text for o in tf.options] == ["正确", "错误"] and tf.options[0].correct
    # the empty option is dropped and the answer index follows its option
    assert [(o.text, o.correct) for o in single.options] == [("服务", False), ("发展", True)] and single.difficulty == 2

    # same stem up to width, spacing and punctuation → refused with the stem named; another bank is fine
    error = _refused(create, SYSTEM, bank, Q("single", " 党的根本宗旨是什么 ? ", ["甲", "乙"], [0]))
    assert error.code == "duplicate" and "党的根本宗旨是什么" in error.message
    with atomic():
        create(SYSTEM, other, Q("single", "党的根本宗旨是什么？", ["甲", "乙"], [0]))
        qb.set_active(SYSTEM, single, False)  # retired: no longer a duplicate, not listed
        again = create(SYSTEM, bank, Q("single", "党的根本宗旨是什么？", ["甲", "乙"], [1]))
    assert again.id != single.id and _count(bank) == 2
    assert _refused(qb.set_active, SYSTEM, single, True).code == "duplicate"
    assert (
        _refused(qb.update_question, SYSTEM, again, Q("single", "预备期为一年", ["甲", "乙"], [0])).code == "duplicate"
    )

    member = db.session.get(User, create_user("member1"))
    with pytest.raises(Forbidden), atomic():
        create(member, bank, Q("single", "题十", ["甲", "乙"], [0]))


HEADER = "题型,题干,选项A,选项B,选项C,选项D,答案,解析,难度\r\n"


def test_csv_import_encodings_missing_columns_and_row_errors(ctx, client, auth, create_user):
    utf8, bom, gbk = _bank("甲"), _bank("乙"), _bank("丙")
    body = HEADER + "单选题,党的最高领导机关是？,全国代表大会和中央委员会,中央政治局,,,A,党章第十条,中\r\n"
    body += "判断题,预备党员的预备期为一年。,,,,,对,,易\r\n多选题,三会一课包括？,支部党员大会,支部委员会,党小组会,党课,ABCD,,难\r\n"
    with atomic():
        assert question_io.import_questions(SYSTEM, utf8, "bank.csv", body.encode("utf-8")).created == 3
        assert question_io.import_questions(SYSTEM, bom, "bank.csv", b"\xef\xbb\xbf" + body.encode()).created == 3
        assert question_io.import_questions(SYSTEM, gbk, "题库.csv", body.encode("gbk")).created == 3
    stems = set(db.session.scalars(select(Question.stem).where(gbk.where())))
    assert "党的最高领导机关是？" in stems and "三会一课包括？" in stems
    hard = db.session.scalar(select(Question).where(gbk.where(), Question.kind == "multiple"))
    assert hard.difficulty == 3 and [o.correct for o in hard.options] == [True] * 4

    with pytest.raises(question_io.ImportFailed) as caught, atomic():
        question_io.import_questions(SYSTEM, utf8, "x.csv", "题干,选项A,选项B\r\n题,甲,乙\r\n".encode())
    assert caught.value.errors == ["缺少必需的列：题型、答案。第一行应包含：题型、题干、选项A、选项B、答案。"]

    bad = HEADER + (
        "单选题,新题一,甲,乙,,,A,,\r\n"  # row 2: fine
        "单选题,新题二,甲,乙,,,E,,\r\n"  # row 3: answer letter without an option
        "多选题,新题三,甲,乙,丙,,A,,\r\n"  # row 4: multiple with one answer
        "单选题,新 题 一！,甲,乙,,,B,,\r\n"  # row 5: duplicate of row 2
        "判断题,预备党员的预备期为一年,,,,,对,,\r\n"  # row 6: already in the bank
        "问答题,新题四,甲,乙,,,A,,\r\n"  # row 7: unknown kind
        "单选题,新题五,甲,乙,,,A,,很难\r\n"  # row 8: unknown difficulty
    )
    with pytest.raises(question_io.ImportFailed) as caught, atomic():
        question_io.import_questions(SYSTEM, utf8, "bad.csv", bad.encode("gbk"))
    errors = caught.value.errors
    assert [e.split("：")[0] for e in errors] == ["第3行", "第4行", "第5行", "第6行", "第7行", "第8行"]
    assert "与第2行的题目重复" in errors[2] and "题库中已有相同的题目" in errors[3]
    assert _count(utf8) == 3  # all or nothing: row 2 was not stored either

    # the admin page shows every row error and stores nothing
    create_user("admin1", roles=("admin",))
    auth.login("admin1")
    page = client.post(
        "/admin/school/questions/import",
        data={"bank": utf8.key, "file": (io.BytesIO(bad.encode("utf-8")), "bad.csv")},
        content_type="multipart/form-data",
    )
    assert page.status_code == 400 and "第3行" in page.get_data(as_text=True) and "第8行" in page.get_data(as_text=True)
    assert _count(utf8) == 3


def test_export_round_trips_through_import(ctx, client, auth, create_user):
    source, xlsx_copy, csv_copy = _bank("源"), _bank("XLSX"), _bank("CSV")
    with atomic():
        qb.create_question(
            SYSTEM, source, Q("multiple", "=1+1 是公式吗", ["-是", "否", "@不知道"], [0, 2], "解析，含逗号", 3)
        )
        qb.create_question(SYSTEM, source, Q("truefalse", "党费按月交纳。", [], [0], "", 1))
        qb.create_question(SYSTEM, source, Q("single", "第一行\n第二行", list("一二三四五六七"), [6], "", 2))

    def shape(bank):
        return sorted(
            (q.kind.value, q.stem, q.explanation, q.difficulty, tuple((o.text, o.correct) for o in q.options))
            for q in qb.list_questions(SYSTEM, bank)
        )

    create_user("admin1", roles=("admin",))
    auth.login("admin1")
    xlsx = client.get(f"/admin/school/questions/export?bank={source.key}&format=xlsx")
    assert xlsx.status_code == 200
    sheet = load_workbook(io.BytesIO(xlsx.data)).active
    rows = [[c.value for c in row] for row in sheet.iter_rows()]
    assert rows[0][:3] == ["题型", "题干", "选项A"] and "选项G" in rows[0] and len(rows) == 4
    assert rows[1][1] == "=1+1 是公式吗" and sheet["B2"].data_type == "s"  # text, not a formula

    csv_data = client.get(f"/admin/school/questions/export?bank={source.key}").data
    assert csv_data.startswith(b"\xef\xbb\xbf") and b"'=1+1" in csv_data

    with atomic():
        question_io.import_questions(SYSTEM, xlsx_copy, "bank.xlsx", xlsx.data)
        question_io.import_questions(SYSTEM, csv_copy, "bank.csv", csv_data)
    assert shape(xlsx_copy) == shape(source) == shape(csv_copy)
