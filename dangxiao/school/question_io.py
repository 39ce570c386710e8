"""Import and export of a question bank as CSV or XLSX.

Columns (header row, any order; names as below):

    题型 | 题干 | 选项A | 选项B | 选项C … 选项H | 答案 | 解析 | 难度

* 题型: 单选题 / 多选题 / 判断题 (单选, 多选, 判断 also accepted).
* 答案: letters of the correct options ("A", "AC", "A,C"); for 判断题 对/错 (正确/错误, √/×, A/B);
  判断题 need no option cells (they are always 正确/错误).
* 难度: 易/中/难 or 1/2/3; empty means 易. 解析 may be empty.
* Required columns: 题型, 题干, 答案 (and 选项A, 选项B). Missing ones are named in one message.

CSV files may be UTF-8 with or without a BOM, or GBK/GB18030 as Excel saves them on
Chinese Windows. Row numbers in messages are the spreadsheet's ("第2行" is the first
question under the header).

**All or nothing**: a file with any bad row stores nothing; every row error is reported
at once (so the author fixes the file in one go). Duplicates — within the file or against
the bank's active questions — are row errors too.

Export writes the same columns (CSV as UTF-8 with a BOM so Excel opens it correctly) and
reads back through import unchanged. Cells that would start a spreadsheet formula
(= + - @) are written with a leading apostrophe in CSV (and as plain text in XLSX); the
importer strips that apostrophe again.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from typing import Any

from openpyxl import Workbook, load_workbook

from dangxiao.errors import DomainError
from dangxiao.policy import require
from dangxiao.school import question_bank as qb
from dangxiao.school.quiz_models import QuestionKind

OPTION_LETTERS = "ABCDEFGH"
OPTION_COLUMNS = [f"选项{letter}" for letter in OPTION_LETTERS]
REQUIRED_COLUMNS = ["题型", "题干", "选项A", "选项B", "答案"]
OPTIONAL_COLUMNS = ["解析", "难度"]
EXPORT_COLUMNS = ["题型", "题干", *OPTION_COLUMNS[:6], "答案", "解析", "难度"]
MAX_BYTES = 5 * 1024 * 1024
MAX_ROWS = 2000

KIND_NAMES = {
    "单选题": QuestionKind.single,
    "单选": QuestionKind.single,
    "多选题": QuestionKind.multiple,
    "多选": QuestionKind.multiple,
    "判断题": QuestionKind.truefalse,
    "判断": QuestionKind.truefalse,
}
KIND_EXPORT = {QuestionKind.single: "单选题", QuestionKind.multiple: "多选题", QuestionKind.truefalse: "判断题"}
DIFFICULTY_NAMES = {"": 1, "易": 1, "简单": 1, "1": 1, "中": 2, "中等": 2, "2": 2, "难": 3, "困难": 3, "3": 3}
TRUE_WORDS = {"对", "正确", "√", "✓", "T", "TRUE", "Y", "是", "A"}
FALSE_WORDS = {"错", "错误", "×", "✗", "F", "FALSE", "N", "否", "B"}
FORMULA_START = ("=", "+", "-", "@")


class ImportFailed(DomainError):
    """The file was refused; `errors` lists every problem (``第N行：…``) to show together."""

    code = "import_failed"

    def __init__(self, errors: list[str]):
        super().__init__(errors[0] if len(errors) == 1 else f"导入失败，共 {len(errors)} 处错误，未导入任何题目。")
        self.errors = errors


@dataclass
class ImportResult:
    created: int
    question_ids: list[int] = field(default_factory=list)


# --- reading ---------------------------------------------------------------------------------


def decode_csv(data: bytes) -> str:
    """UTF-8 (BOM or not) first; Excel on Chinese Windows saves GBK, read as its superset GB18030."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("gb18030")
    except UnicodeDecodeError:
        raise ImportFailed(["无法识别文件编码，请在 Excel 中另存为“CSV UTF-8”后重试。"]) from None


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = str(value).strip()
    if len(text) > 1 and text[0] == "'" and text[1] in FORMULA_START:
        text = text[1:]
    return text


def read_rows(filename: str, data: bytes) -> list[list[str]]:
    """The file's rows as lists of stripped strings (first row is the header)."""
    if len(data) > MAX_BYTES:
        raise ImportFailed(["文件太大：题库文件不能超过 5 MB。"])
    name = (filename or "").lower()
    if data.startswith(b"PK\x03\x04") or name.endswith(".xlsx"):
        try:
            workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
            sheet = workbook.worksheets[0]
            rows = [[_cell(v) for v in row] for row in sheet.iter_rows(values_only=True, max_row=MAX_ROWS + 2)]
            workbook.close()
        except Exception:  # noqa: BLE001 — any unreadable workbook is the same message to the author
            raise ImportFailed(["无法读取该 Excel 文件，请确认是 .xlsx 格式。"]) from None
        return rows
    if name and not name.endswith((".csv", ".txt")):
        raise ImportFailed(["只支持 .csv 或 .xlsx 文件。"])
    text = decode_csv(data)
    try:
        return [[_cell(v) for v in row] for row in csv.reader(io.StringIO(text, newline=""))]
    except csv.Error:
        raise ImportFailed(["CSV 文件格式有误，无法读取。"]) from None


def _answer_indexes(kind: QuestionKind, answer: str, option_count: int) -> list[int]:
    word = answer.replace(" ", "").upper()
    if kind is QuestionKind.truefalse:
        if word in TRUE_WORDS:
            return [0]
        if word in FALSE_WORDS:
            return [1]
        raise DomainError("判断题的答案应为“对”或“错”。", "answer_invalid")
    letters = [c for c in word if c not in ",，、;；"]
    if not letters or any(c not in OPTION_LETTERS[:option_count] for c in letters):
        raise DomainError(f"答案“{answer}”应为选项字母，如 A 或 AC。", "answer_invalid")
    if len(set(letters)) != len(letters):
        raise DomainError(f"答案“{answer}”中有重复的字母。", "answer_invalid")
    return [OPTION_LETTERS.index(c) for c in letters]


def parse_row(record: dict[str, str]) -> qb.CleanQuestion:
    kind_name = record.get("题型", "")
    kind = KIND_NAMES.get(kind_name)
    if kind is None:
        raise DomainError(f"题型“{kind_name}”无效，应为单选题、多选题或判断题。", "kind_invalid")
    options = [record.get(column, "") for column in OPTION_COLUMNS]
    while options and not options[-1]:
        options.pop()
    difficulty = DIFFICULTY_NAMES.get(record.get("难度", ""))
    if difficulty is None:
        raise DomainError(f"难度“{record.get('难度')}”无效，应为易、中、难或 1、2、3。", "difficulty_invalid")
    if not record.get("答案"):
        raise DomainError("缺少答案。", "answer_empty")
    correct = _answer_indexes(kind, record["答案"], max(len(options), 2))
    data = qb.QuestionInput(kind, record.get("题干", ""), options, correct, record.get("解析", ""), difficulty)
    return qb.validate(data)


def parse_file(bank: qb.Bank, filename: str, data: bytes) -> list[qb.CleanQuestion]:
    """Validate every row; raise ImportFailed with all errors, or return the clean questions."""
    rows = read_rows(filename, data)
    while rows and not any(rows[0]):
        rows.pop(0)
    if not rows:
        raise ImportFailed(["文件是空的：第一行应为列名（题型、题干、选项A、选项B、答案……）。"])
    header = [h.replace(" ", "") for h in rows[0]]
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if missing:
        raise ImportFailed([f"缺少必需的列：{'、'.join(missing)}。第一行应包含：{'、'.join(REQUIRED_COLUMNS)}。"])
    if len(rows) - 1 > MAX_ROWS:
        raise ImportFailed([f"一次最多导入 {MAX_ROWS} 道题。"])
    known = [(i, h) for i, h in enumerate(header) if h in REQUIRED_COLUMNS + OPTIONAL_COLUMNS + OPTION_COLUMNS]
    errors: list[str] = []
    clean_rows: list[qb.CleanQuestion] = []
    seen: dict[str, int] = {}
    for number, row in enumerate(rows[1:], start=2):
        if not any(row):
            continue
        record = {h: (row[i] if i < len(row) else "") for i, h in known}
        try:
            clean = parse_row(record)
        except DomainError as exc:
            errors.append(f"第{number}行：{exc.message}")
            continue
        if clean.fingerprint in seen:
            errors.append(f"第{number}行：与第{seen[clean.fingerprint]}行的题目重复（“{qb._short(clean.stem)}”）。")
            continue
        seen[clean.fingerprint] = number
        if qb.duplicate_of(bank, clean.fingerprint) is not None:
            errors.append(f"第{number}行：题库中已有相同的题目（“{qb._short(clean.stem)}”）。")
            continue
        clean_rows.append(clean)
    if errors:
        raise ImportFailed(errors)
    if not clean_rows:
        raise ImportFailed(["文件中没有题目。"])
    return clean_rows


def import_questions(actor: Any, bank: qb.Bank | None, filename: str, data: bytes) -> ImportResult:
    """Import a whole file into `bank`, or nothing (ImportFailed lists every row error)."""
    require(actor, "school.manage")
    bank = qb.require_bank(bank)
    questions = [qb.add_clean(bank, clean) for clean in parse_file(bank, filename, data)]
    qb.db.session.flush()
    return ImportResult(created=len(questions), question_ids=[q.id for q in questions])


# --- writing ---------------------------------------------------------------------------------


def export_rows(actor: Any, bank: qb.Bank) -> list[list[str]]:
    """Header plus one row per active question, in the import format."""
    questions = qb.list_questions(actor, bank)
    width = max([6, *(len(q.options) for q in questions if q.kind is not QuestionKind.truefalse)])
    header = ["题型", "题干", *OPTION_COLUMNS[:width], "答案", "解析", "难度"]
    rows = [header]
    for q in questions:
        texts = [o.text for o in q.options]
        if q.kind is QuestionKind.truefalse:
            answer = "对" if q.options and q.options[0].correct else "错"
        else:
            answer = "".join(OPTION_LETTERS[i] for i, o in enumerate(q.options) if o.correct)
        texts += [""] * (width - len(texts))
        rows.append([KIND_EXPORT[q.kind], q.stem, *texts, answer, q.explanation, qb.DIFFICULTY_LABELS[q.difficulty]])
    return rows


def _safe_csv(text: str) -> str:
    return "'" + text if text.startswith(FORMULA_START) else text


def export_csv(actor: Any, bank: qb.Bank) -> bytes:
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\r\n")
    for row in export_rows(actor, bank):
        writer.writerow([_safe_csv(v) for v in row])
    return b"\xef\xbb\xbf" + out.getvalue().encode("utf-8")


def export_xlsx(actor: Any, bank: qb.Bank) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "题库"
    for r, row in enumerate(export_rows(actor, bank), start=1):
        for c, value in enumerate(row, start=1):
            cell = sheet.cell(row=r, column=c)
            cell.value = value
            cell.data_type = "s"  # text, never a formula, whatever the first character
    sheet.column_dimensions["B"].width = 60
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()
