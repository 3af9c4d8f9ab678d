"""The class report beside the gradebook (coursekit.grading.report): counts checked against the results."""

from __future__ import annotations

import re
from collections import Counter

import pytest
from PIL import Image

from coursekit.grading import grade, report
from coursekit.grading.grade import Question, Result

QUESTIONS = [Question("q1", 2.0), Question("q2", 3.0), Question("q3", 1.0)]
KL_SIGN = "AssertionError: kl: expected {}, got {} (rtol={}, atol={}): KL is negative: check the sign"
KL_MISTAKE = "AssertionError: kl: expected #, got # (rtol=#, atol=#): KL is negative: check the sign"
SHAPE = "AssertionError: z: expected shape (B, 20), got (B, 40): did you concatenate mu and logvar?"
SPECIAL = "AssertionError: mu_*: expected [0, 1] | got <none>"
NO_RESULT = "no result (the question's tests never ran)"
ZEROS = {"q1": 0.0, "q2": 0.0, "q3": 0.0}


def kl(expected: float, got: float) -> str:
    """check_close's message for the KL sign mistake, as otter's output gives it."""
    return KL_SIGN.format(expected, got, 0.0001, 1e-05)


def class_results() -> list[Result]:
    """Ten submissions: mixed statuses, the KL sign mistake made by four students with different numbers."""
    return [
        Result("alice", "ok", {"q1": 2.0, "q2": 3.0, "q3": 1.0}),
        Result("bob", "ok", {"q1": 2.0, "q2": 0.0, "q3": 1.0}, {"q2": [kl(3.2, -3.2)]}),
        Result("carol", "ok", {"q1": 1.0, "q2": 0.0, "q3": 0.5},
               {"q1": [SHAPE], "q2": [kl(1.5, -1.7)],
                "q3": ["NameError: name 'beta' is not defined"]}),
        Result("dan", "ok", {"q1": 2.0, "q2": 1.5, "q3": 1.0},
               {"q2": [kl(3.2, -3.2), kl(3.2, -3.2)]}),
        Result("erin", "ok", {"q1": 0.0, "q2": 0.0, "q3": 0.0},
               {"q1": [SHAPE], "q2": [kl(0.25, -0.3)], "q3": [NO_RESULT, SPECIAL]}),
        Result("frank", "timeout", dict(ZEROS), {}, "killed after the time limit of 600 s"),
        Result("gina", "crashed", dict(ZEROS), {}, "otter produced no results"),
        Result("hank", "tampered", dict(ZEROS), {}, "the submission changed the grading environment"),
        Result("ivan", "invalid notebook", dict(ZEROS), {}, "JSONDecodeError"),
        # q3 missing from the scores counts as 0, like in the CSV
        Result("jo", "ok", {"q1": 2.0, "q2": 3.0},
               {"q3": ["AssertionError: beta: expected 4, got 4.5 (rtol=0.0001, atol=1e-05)"]}),
    ]


def csv_column(results: list[Result], question: str) -> list[float]:
    """A question's gradebook column: the score, 0 when missing."""
    return [r.scores.get(question, 0.0) for r in results]


def split_cells(line: str) -> list[str]:
    """The cells of a Markdown table row, split on unescaped pipes, with backslash escapes undone."""
    cells = re.split(r"(?<!\\)\|", line.strip()[1:-1])
    return [re.sub(r"\\(.)", r"\1", cell.strip()) for cell in cells]


def parse_tables(text: str) -> dict[tuple[str, str, str], list[dict[str, str]]]:
    """Every table of the report keyed by (## heading, ### heading, the paragraph just before the table)."""
    tables: dict[tuple[str, str, str], list[dict[str, str]]] = {}
    h2 = h3 = label = ""
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("## "):
            h2, h3, label = line[3:], "", ""
        elif line.startswith("### "):
            h3, label = line[4:], ""
        elif line.startswith("|"):
            header = split_cells(line)
            rows = []
            i += 2  # the alignment row
            while i < len(lines) and lines[i].startswith("|"):
                rows.append(dict(zip(header, split_cells(lines[i]), strict=True)))
                i += 1
            tables[(h2, h3, label)] = rows
            continue
        elif line.strip():
            label = line.strip()
        i += 1
    return tables


def count_of(cell: str) -> int:
    """The count of a ``"5 (50.0%)"`` cell."""
    return int(cell.split()[0])


@pytest.fixture
def written(tmp_path):
    results = class_results()
    out_csv = tmp_path / "out" / "grades.csv"
    md, png = report.write_summary(out_csv, QUESTIONS, results)
    return results, md, png, md.read_text(encoding="utf-8")


def test_files_sit_beside_the_csv_and_no_temporary_file_is_left(written, tmp_path):
    _, md, png, text = written
    assert md == tmp_path / "out" / "grades_summary.md"
    assert png == tmp_path / "out" / "grades_summary.png"
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["grades_summary.md", "grades_summary.png"]
    assert text.startswith("# Class report: grades.csv\n")
    assert "Submissions: 10." in text
    assert "](grades_summary.png)" in text, "the image link is relative to the md"


def test_status_counts_match_the_results(written):
    results, _, _, text = written
    rows = parse_tables(text)[("Statuses", "", "")]
    counts = {row["status"]: count_of(row["submissions"]) for row in rows}
    assert sum(counts.values()) == len(results)
    assert counts == {**{s: 0 for s in grade.STATUSES}, **Counter(r.status for r in results)}
    assert set(grade.STATUSES) <= set(counts), "every known status is listed, even at 0"
    shares = {row["status"]: row["submissions"] for row in rows}
    assert shares["ok"] == "6 (60.0%)"


def test_per_question_mean_and_shares_match_the_csv_columns(written):
    results, _, _, text = written
    tables = parse_tables(text)
    rows = next(rows for (h2, _, _), rows in tables.items() if h2 == "Questions")
    assert [row["question"] for row in rows] == [q.name for q in QUESTIONS]
    for q, row in zip(QUESTIONS, rows, strict=True):
        column = csv_column(results, q.name)
        assert float(row["points"]) == q.points
        assert float(row["mean"]) == pytest.approx(sum(column) / len(column), abs=5e-4)
        assert count_of(row["full marks"]) == sum(s >= q.points for s in column)
        assert count_of(row["zero"]) == sum(s == 0 for s in column)
    by_name = {row["question"]: row for row in rows}
    assert by_name["q1"]["full marks"] == "4 (40.0%)"
    assert by_name["q3"]["zero"] == "6 (60.0%)", "jo's missing q3 score counts as 0"


def test_message_counts_are_submissions_whose_failures_hold_the_message(written):
    results, _, _, text = written
    tables = parse_tables(text)
    seen = 0
    for q in QUESTIONS:
        for row in tables.get(("Most frequent failures", q.name, "Messages:"), []):
            expected = sum(row["message"] in r.failures.get(q.name, []) for r in results)
            assert count_of(row["submissions"]) == expected, row
            seen += 1
    every = {(q, m) for r in results for q, messages in r.failures.items() for m in messages}
    assert seen == len(every), "with fewer than ten distinct messages per question, all are listed"
    q2 = {row["message"]: count_of(row["submissions"])
          for row in tables[("Most frequent failures", "q2", "Messages:")]}
    assert q2[kl(3.2, -3.2)] == 2, "dan's repeated message counts once"
    q3 = {row["message"] for row in tables[("Most frequent failures", "q3", "Messages:")]}
    assert SPECIAL in q3, "pipes and Markdown characters survive the table"


def test_the_same_hint_with_different_numbers_is_one_mistake(written):
    _, _, _, text = written
    tables = parse_tables(text)
    q2 = tables[("Most frequent failures", "q2", "Mistakes:")]
    assert [(row["mistake"], row["submissions"]) for row in q2] == [
        (KL_MISTAKE, "4 (40.0%)")]
    q1 = tables[("Most frequent failures", "q1", "Mistakes:")]
    assert [(row["mistake"], count_of(row["submissions"])) for row in q1] == [
        ("AssertionError: z: expected shape (B, #), got (B, #): did you concatenate mu and logvar?", 2)]
    assert "No failed checks." not in text.split("### q1")[1].split("###")[0]


def test_png_is_a_valid_image_and_no_pyplot_figure_leaks(tmp_path):
    plt = pytest.importorskip("matplotlib.pyplot")
    before = plt.get_fignums()
    _, png = report.write_summary(tmp_path / "grades.csv", QUESTIONS, class_results())
    assert plt.get_fignums() == before
    data = png.read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) > 1000
    with Image.open(png) as image:
        image.verify()
    with Image.open(png) as image:
        assert image.width > 0 and image.height > 0


def test_zero_submissions_write_a_clear_report(tmp_path):
    md, png = report.write_summary(tmp_path / "grades.csv", QUESTIONS, [])
    text = md.read_text(encoding="utf-8")
    assert "Submissions: 0." in text and "No submissions were graded" in text
    statuses = parse_tables(text)[("Statuses", "", "")]
    assert {row["status"] for row in statuses} == set(grade.STATUSES)
    assert all(count_of(row["submissions"]) == 0 for row in statuses)
    questions = next(rows for (h2, _, _), rows in parse_tables(text).items() if h2 == "Questions")
    assert [row["mean"] for row in questions] == ["-", "-", "-"]
    assert text.count("No failed checks.") == len(QUESTIONS)
    assert png.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")


def test_top_ten_per_question(tmp_path):
    results = [Result(f"s{i:02d}", "ok", {"q1": 0.0}, {"q1": [f"check {chr(97 + i % 12)} failed"]})
               for i in range(30)]
    md, _ = report.write_summary(tmp_path / "grades.csv", [Question("q1", 1.0)], results)
    rows = parse_tables(md.read_text())[("Most frequent failures", "q1", "Messages:")]
    assert len(rows) == report.TOP
    assert [count_of(row["submissions"]) for row in rows] == [3] * 6 + [2] * 4
    assert rows[0]["message"] == "check a failed", "ties sort alphabetically"


@pytest.mark.parametrize(("message", "mistake"), [
    (KL_SIGN.format(3.2, -3.2, 1e-4, 1e-5), KL_MISTAKE),
    ("model: expected 1,234 trainable parameters, got 1,200 (34 fewer)",
     "model: expected # trainable parameters, got # (# fewer)"),
    ("conv2d: expected values in [0, 1], got values in [-0.5, 1.5e+03]",
     "conv2d: expected values in [#, #], got values in [#, #]"),
    ("NameError: name 'x1' is not defined", "NameError: name 'x1' is not defined"),
    ("float32 at 0x7f3a2b  with torch 2.3.1", "float32 at # with torch 2.3.1"),
])
def test_mistake_of_replaces_standalone_numbers(message, mistake):
    assert report.mistake_of(message) == mistake


def test_histogram_bins():
    assert report.histogram_bins(6.0, [0.0, 6.0]) == [i - 0.5 for i in range(8)]
    assert report.histogram_bins(6.0, [2.5]) == [(i - 0.5) * 0.5 for i in range(14)]
    assert report.histogram_bins(5.0, [7.0]) == [i - 0.5 for i in range(9)], "a total above the maximum fits"
    assert report.histogram_bins(0.0, []) == [-0.5, 0.5]
    # 61 tenths from 0 to 6: four per bin
    assert report.histogram_bins(6.0, [2.3]) == pytest.approx([0.4 * i - 0.05 for i in range(17)])
    # multiples of 0.75 up to 21: two per bin, never one bin with one and the next with two
    assert report.histogram_bins(21.0, [0.75, 10.5]) == pytest.approx([1.5 * i - 0.375 for i in range(16)])
    # otter's partial credit in thirds
    assert report.histogram_bins(2.0, [2 / 3, 4 / 3]) == pytest.approx([(i - 0.5) * 2 / 3 for i in range(5)])
    assert report.histogram_bins(3.0, [3.14159265]) == pytest.approx([3.14159265 * i / 20 for i in range(21)])
    edges = report.histogram_bins(6.0, [0.0, 6.0, 6.0, 3.0])
    assert report.histogram_counts([0.0, 6.0, 6.0, 3.0], edges) == [1, 0, 0, 1, 0, 0, 2]
