"""The class report of a gradebook: ``<csv stem>_summary.md`` and ``<csv stem>_summary.png`` beside the CSV.

The one entry point is :func:`write_summary`. The report tells an instructor how the class did and which
mistakes it makes: the count of each status, per question the mean score and the shares of submissions at
full marks and at zero, the most frequent failure messages per question, and the distribution of totals.

Every figure counts *submissions* (one per result, whatever its status): its scores and messages count like
any other's. A ``timeout``, ``crashed``, ``invalid notebook`` or ``tampered`` submission scores 0 without
messages, so it counts in the means and in the "at zero" shares but in no failure row. A score missing from
``Result.scores`` counts as 0, like in the CSV.

Failures are counted twice per question, each row being the number of submissions whose failure list for that
question holds the message (a submission that fails the same check twice counts once):

- *messages*: identical messages grouped as they are;
- *mistakes*: messages grouped after :func:`mistake_of` replaced every number by ``#``, so the same check
  ending in the same hint ("kl: expected 3.2, got -3.2 (rtol=...): KL is negative: check the sign") is one
  mistake whatever numbers the student's code produced.

Zero submissions is not an error: both files are still written and say that there was nothing to grade.
"""

from __future__ import annotations

import math
import os
import re
import tempfile
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import IO, TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # imported on use: grade.py imports this module, a top-level import would be circular
    from matplotlib.figure import Figure

    from .grade import Question, Result

TOP = 10
MAX_MESSAGE_CHARS = 300
MAX_BINS = 20
_EPS = 1e-9
_NUMBER = re.compile(r"0x[0-9a-fA-F]+"
                     r"|(?<![\w.])[-+]?(?:\d+(?:,\d{3})*(?:\.\d+)?|\.\d+)(?:[eE][-+]?\d+)?(?!\w|\.\d)")
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_|<>\[\]])")


def write_summary(out_csv: Path, questions: Sequence[Question],
                  results: Sequence[Result]) -> tuple[Path, Path]:
    """Write ``<out_csv stem>_summary.md`` and ``<out_csv stem>_summary.png`` beside ``out_csv``.

    Each file is written to a temporary file in the same folder, then moved into place with ``os.replace``,
    so a reader never sees half a report. Returns ``(md_path, png_path)``. ``results`` may be empty: the
    report then says that there were no submissions.
    """
    out_csv = Path(out_csv)
    md_path = out_csv.with_name(f"{out_csv.stem}_summary.md")
    png_path = out_csv.with_name(f"{out_csv.stem}_summary.png")
    summary = summarize(questions, results)
    text = summary_markdown(summary, csv_name=out_csv.name, png_name=png_path.name)
    _write_atomic(md_path, lambda handle: handle.write(text.encode("utf-8")))
    figure = summary_figure(summary)
    _write_atomic(png_path, lambda handle: figure.savefig(handle, format="png", dpi=100))
    return md_path, png_path


@dataclass(frozen=True)
class QuestionSummary:
    """One question's figures: mean score, counts at full marks and at zero, top messages and mistakes."""

    name: str
    points: float
    mean: float | None
    full: int
    zero: int
    messages: list[tuple[str, int]]
    mistakes: list[tuple[str, int]]


@dataclass(frozen=True)
class Summary:
    """The figures of a class report (see :func:`summarize`)."""

    submissions: int
    statuses: list[tuple[str, int]]
    questions: list[QuestionSummary]
    totals: list[float]
    max_total: float


def summarize(questions: Sequence[Question], results: Sequence[Result]) -> Summary:
    """Count statuses, per-question scores and failures, and each submission's total."""
    totals = [sum(_score(r, q) for q in questions) for r in results]
    return Summary(submissions=len(results), statuses=status_counts(results),
                   questions=[question_summary(q, results) for q in questions],
                   totals=totals, max_total=float(sum(q.points for q in questions)))


def known_statuses() -> tuple[str, ...]:
    """The statuses ``grade`` can give (``grade.STATUSES``), listed in the report even at 0."""
    from . import grade

    return tuple(getattr(grade, "STATUSES", ()))


def status_counts(results: Sequence[Result]) -> list[tuple[str, int]]:
    """``(status, count)`` for every known status (0 included), then any other status seen, by first sight."""
    counts = Counter(r.status for r in results)
    order = list(known_statuses())
    order += [s for s in dict.fromkeys(r.status for r in results) if s not in order]
    return [(status, counts[status]) for status in order]


def _score(result: Result, question: Question) -> float:
    return float(result.scores.get(question.name, 0.0))


def question_summary(question: Question, results: Sequence[Result]) -> QuestionSummary:
    """Mean score, submissions at full marks (score >= points) and at zero, top messages and mistakes."""
    scores = [_score(r, question) for r in results]
    failures = [r.failures.get(question.name, []) for r in results]
    return QuestionSummary(
        name=question.name, points=float(question.points),
        mean=sum(scores) / len(scores) if scores else None,
        full=sum(s >= question.points - _EPS for s in scores),
        zero=sum(abs(s) <= _EPS for s in scores),
        messages=most_frequent(failures, key=lambda m: m),
        mistakes=most_frequent(failures, key=mistake_of))


def mistake_of(message: str) -> str:
    """The mistake a failure message reports: the message with every number replaced by ``#``.

    A number is an optional sign, digits (with ``,`` thousands groups), an optional fraction and exponent, or
    a hex literal, standing alone: digits inside a word or a dotted version stay (``conv2d``, ``q1``,
    ``float32``, ``1.2.3``). Whitespace runs become one space. The check's name, the wording and the hint
    are kept whole, so ``"kl: expected 3.2, got -3.2 (rtol=0.0001, atol=1e-05): KL is negative: check the
    sign"`` and the same message with other numbers both become ``"kl: expected #, got # (rtol=#, atol=#):
    KL is negative: check the sign"``. The whole message is the key rather than the text after its last
    ``": "``: a hint can hold ``": "`` itself (as here), and a message without a hint ends in numbers, not in
    a mistake's name.
    """
    return " ".join(_NUMBER.sub("#", message).split())


def most_frequent(failures: Sequence[Sequence[str]], key: Callable[[str], str],
                  top: int = TOP) -> list[tuple[str, int]]:
    """The ``top`` most frequent keys of the messages, each counted once per submission that has it.

    ``failures`` holds one list of messages per submission. Ties are broken alphabetically.
    """
    counts = Counter(k for messages in failures for k in {key(m) for m in messages})
    return sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:top]


def histogram_bins(max_total: float, totals: Sequence[float]) -> list[float]:
    """Bin edges for the totals, from 0 to the maximum total (or the highest total, should one be above it).

    Totals usually lie on a grid (whole points, halves, the thirds of otter's partial credit): with ``step``
    from :func:`grid_step`, each bin holds the same number of grid values (one when that gives at most
    ``MAX_BINS`` bins, so a bar is centred on each possible total), which keeps a coarse grid from making
    every other bin twice as full. Totals on no grid get ``MAX_BINS`` equal bins. A NaN or infinite total
    (never in a gradebook) is left out.
    """
    totals = [t for t in totals if math.isfinite(t)]
    high = max([max_total, *totals, 0.0])
    if high <= 0:
        return [-0.5, 0.5]
    step = grid_step([high, *totals])
    if step is None:
        return [high * i / MAX_BINS for i in range(MAX_BINS + 1)]
    values = round(high / step) + 1
    per_bin = math.ceil(values / MAX_BINS)
    return [(i * per_bin - 0.5) * step for i in range(math.ceil(values / per_bin) + 1)]


def grid_step(values: Sequence[float]) -> float | None:
    """The largest step (at most 1 when whole) that every value is a multiple of, or None when there is none.

    Values are read as fractions with denominators up to 1000 (a value further than 1e-9 from its fraction
    has no grid). A whole step above 1 becomes 1, so totals of 0 and 6 still get a bin per point.
    """
    fractions = [Fraction(v).limit_denominator(1000) for v in values]
    if any(abs(float(f) - v) > 1e-9 * max(1.0, abs(v)) for f, v in zip(fractions, values, strict=True)):
        return None
    denominator = math.lcm(*(f.denominator for f in fractions))
    step = Fraction(math.gcd(*(int(f * denominator) for f in fractions)), denominator)
    if step == 0:
        return None
    return 1.0 if step.denominator == 1 else float(step)


def histogram_counts(totals: Sequence[float], edges: Sequence[float]) -> list[int]:
    """How many totals fall in each bin (``numpy.histogram``: the last bin includes its right edge)."""
    return [int(c) for c in np.histogram(np.asarray(totals, dtype=float), bins=np.asarray(edges))[0]]


def _number(value: float) -> str:
    return f"{value:g}"


def _share(count: int, submissions: int) -> str:
    return f"{count} ({100.0 * count / submissions:.1f}%)" if submissions else f"{count} (-)"


def escape_markdown(text: str) -> str:
    """Text for a Markdown table cell: one line, at most ``MAX_MESSAGE_CHARS``, special characters escaped."""
    text = " ".join(text.split())
    if len(text) > MAX_MESSAGE_CHARS:
        text = text[: MAX_MESSAGE_CHARS - 1] + "\u2026"
    return _MARKDOWN_SPECIAL.sub(r"\\\1", text)


def _table(header: Sequence[str], rows: Sequence[Sequence[str]], align: str) -> list[str]:
    """A Markdown table; ``align`` has one letter per column, ``l`` (left) or ``r`` (right)."""
    rule = ["---:" if a == "r" else ":---" for a in align]
    return ["| " + " | ".join(row) + " |" for row in (header, rule, *rows)]


def summary_markdown(summary: Summary, csv_name: str, png_name: str) -> str:
    """The Markdown report: title, statuses, per-question table, totals with the figure, top failures."""
    lines = [f"# Class report: {escape_markdown(csv_name)}", "",
             f"Submissions: {summary.submissions}. Maximum total: {_number(summary.max_total)} points "
             f"over {len(summary.questions)} questions.", ""]
    if not summary.submissions:
        lines += ["No submissions were graded: there is nothing to summarise.", ""]
    lines += _status_section(summary) + _questions_section(summary) + _totals_section(summary, png_name)
    lines += _failures_section(summary)
    return "\n".join(lines).rstrip("\n") + "\n"


def _status_section(summary: Summary) -> list[str]:
    n = summary.submissions
    rows = [[escape_markdown(status), _share(count, n)] for status, count in summary.statuses]
    return ["## Statuses", "", *_table(["status", "submissions"], rows, "lr"), ""]


def _questions_section(summary: Summary) -> list[str]:
    n = summary.submissions
    rows = [[escape_markdown(q.name), _number(q.points), "-" if q.mean is None else f"{q.mean:.3f}",
             _share(q.full, n), _share(q.zero, n)] for q in summary.questions]
    header = ["question", "points", "mean", "full marks", "zero"]
    note = "Mean over all submissions; full marks and zero count submissions (share of all submissions)."
    return ["## Questions", "", note, "", *_table(header, rows, "lrrrr"), ""]


def _totals_section(summary: Summary, png_name: str) -> list[str]:
    lines = ["## Totals", ""]
    totals = sorted(summary.totals)
    if totals:
        mean, median = sum(totals) / len(totals), float(np.median(totals))
        lines += [f"Total points: mean {mean:.3f}, median {median:.3f}, lowest {_number(totals[0])}, highest "
                  f"{_number(totals[-1])} (maximum {_number(summary.max_total)}).", ""]
    return lines + [f"![Histogram of the totals and mean score per question]({png_name})", ""]


def _failures_section(summary: Summary) -> list[str]:
    n = summary.submissions
    lines = ["## Most frequent failures", ""]
    if n:
        lines += [f"Per question, the top {TOP} mistakes (messages with every number replaced by #) and the "
                  f"top {TOP} exact messages, counted in submissions (a submission that fails the same check "
                  f"twice counts once; share of all {n} submissions). A submission without messages (a "
                  "timeout, say) counts in the shares but in no row.", ""]
    for q in summary.questions:
        lines += [f"### {escape_markdown(q.name)}", ""]
        if not q.messages:
            lines += ["No failed checks.", ""]
            continue
        for title, column, rows in (("Mistakes", "mistake", q.mistakes), ("Messages", "message", q.messages)):
            body = [[_share(count, n), escape_markdown(text)] for text, count in rows]
            lines += [f"{title}:", "", *_table(["submissions", column], body, "rl"), ""]
    return lines


def summary_figure(summary: Summary) -> Figure:
    """The histogram of totals and the per-question mean score, side by side, on an Agg-backed Figure."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    width = max(10.0, 6.0 + 0.4 * len(summary.questions))
    figure = Figure(figsize=(width, 4.5), layout="constrained")
    FigureCanvasAgg(figure)
    left, right = figure.subplots(1, 2)
    _draw_histogram(left, summary)
    _draw_means(right, summary)
    figure.suptitle(f"Class report: {summary.submissions} submissions")
    return figure


def _draw_histogram(axes, summary: Summary) -> None:
    """Histogram of the totals with the bins of :func:`histogram_bins`; a note when there are no totals."""
    edges = histogram_bins(summary.max_total, summary.totals)
    counts = histogram_counts(summary.totals, edges)
    widths = [b - a for a, b in zip(edges[:-1], edges[1:], strict=True)]
    axes.bar(edges[:-1], counts, width=widths, align="edge", color="tab:blue", edgecolor="white")
    if summary.totals:
        mean = sum(summary.totals) / len(summary.totals)
        axes.axvline(mean, color="black", linestyle="--", label=f"mean {mean:.2f}")
        axes.legend(loc="upper left", fontsize="small")
    else:
        axes.text(0.5, 0.5, "no submissions", transform=axes.transAxes, ha="center", va="center")
    axes.set_xlim(edges[0], edges[-1])
    axes.set_ylim(0, max([*counts, 1]) * 1.15)
    axes.yaxis.get_major_locator().set_params(integer=True)
    axes.set_title(f"Totals (maximum {_number(summary.max_total)})")
    axes.set_xlabel("total points")
    axes.set_ylabel("submissions")


def _draw_means(axes, summary: Summary) -> None:
    """Per question, the points available (outline) and the class's mean score (filled bar)."""
    names = [q.name for q in summary.questions]
    positions = list(range(len(names)))
    means = [q.mean or 0.0 for q in summary.questions]
    axes.bar(positions, [q.points for q in summary.questions], color="none", edgecolor="grey",
             label="points")
    axes.bar(positions, means, color="tab:orange", width=0.6, label="mean score")
    crowded = len(names) > 6
    axes.set_xticks(positions, names, rotation=45 if crowded else 0, ha="right" if crowded else "center")
    if names:
        axes.set_ylim(0, max([*(q.points for q in summary.questions), *means, 1e-9]) * 1.25)
        axes.legend(loc="upper right", fontsize="small")
    else:
        axes.text(0.5, 0.5, "no questions", transform=axes.transAxes, ha="center", va="center")
    axes.set_title("Mean score per question")
    axes.set_xlabel("question")
    axes.set_ylabel("points")


def _write_atomic(path: Path, write: Callable[[IO[bytes]], object]) -> None:
    """Call ``write`` on a temporary file beside ``path``, then move it onto ``path`` (``os.replace``)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}-", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            write(handle)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
