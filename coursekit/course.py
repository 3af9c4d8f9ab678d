"""The course manifest (`course/course.yml`): modules, notebooks, Colab badges and the README table."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import yaml

from .errors import expect_choice

ROOT = Path(__file__).resolve().parent.parent
MANIFEST = ROOT / "course" / "course.yml"
STATUSES = ("ready", "in-progress", "planned")
FRAMEWORKS = ("torch", "tensorflow")
BADGE_IMAGE = "https://colab.research.google.com/assets/colab-badge.svg"
TABLE_BEGIN = "<!-- module-table:begin (generated from course/course.yml by `python -m coursekit readme`) -->"
TABLE_END = "<!-- module-table:end -->"


@dataclass(frozen=True)
class Module:
    """One course module as the manifest lists it."""

    number: str
    slug: str
    title: str
    framework: str
    status: str
    lecture: str
    solution: str | None
    sources: list[str] = field(default_factory=list)
    papers: list[str] = field(default_factory=list)
    runtime_minutes: dict[str, float] = field(default_factory=dict)

    @property
    def lab(self) -> str | None:
        """The generated student lab, named like the solution it is made from."""
        return f"labs/{Path(self.solution).name}" if self.solution else None

    def notebooks(self) -> list[str]:
        """Every notebook path of the module (lecture, solution, lab) that the manifest implies."""
        return [p for p in (self.lecture, self.solution, self.lab) if p]


@dataclass(frozen=True)
class Course:
    """The parsed manifest."""

    title: str
    repository: str
    branch: str
    modules: list[Module]

    def colab_url(self, notebook: str) -> str:
        """The Open-in-Colab address of a notebook path in the repository."""
        repo = self.repository.removeprefix("https://github.com/").rstrip("/")
        return f"https://colab.research.google.com/github/{repo}/blob/{self.branch}/{notebook}"

    def badge(self, notebook: str) -> str:
        """Markdown for the Open-in-Colab badge of a notebook."""
        return f"[![Open In Colab]({BADGE_IMAGE})]({self.colab_url(notebook)})"

    def module(self, number_or_slug: str) -> Module:
        """Look a module up by number ("01") or slug ("vae")."""
        keys = {m.number: m for m in self.modules} | {m.slug: m for m in self.modules}
        return keys[expect_choice("module", str(number_or_slug), list(keys))]


def _parse_module(raw: dict) -> Module:
    missing = {"number", "slug", "title", "framework", "status", "lecture"} - set(raw)
    if missing:
        raise ValueError(f"course.yml module {raw.get('number', '?')}: missing keys {sorted(missing)}")
    expect_choice(f"status of module {raw['number']}", raw["status"], STATUSES)
    expect_choice(f"framework of module {raw['number']}", raw["framework"], FRAMEWORKS)
    return Module(
        number=str(raw["number"]),
        slug=raw["slug"],
        title=raw["title"],
        framework=raw["framework"],
        status=raw["status"],
        lecture=raw["lecture"],
        solution=raw.get("solution"),
        sources=list(raw.get("sources") or []),
        papers=list(raw.get("papers") or []),
        runtime_minutes=dict(raw.get("runtime_minutes") or {}),
    )


def load(path: Path | str = MANIFEST) -> Course:
    """Read and check the manifest."""
    raw = yaml.safe_load(Path(path).read_text())
    modules = [_parse_module(m) for m in raw["modules"]]
    numbers = [m.number for m in modules]
    if numbers != sorted(set(numbers)):
        raise ValueError(f"course.yml: module numbers must be unique and sorted, got {numbers}")
    return Course(title=raw["title"], repository=raw["repository"], branch=raw.get("branch", "main"),
                  modules=modules)


def readme_table(course: Course | None = None) -> str:
    """The README's module table: number, title, framework, status and a badge per existing notebook."""
    course = course or load()
    rows = [
        "| # | Module | Framework | Status | Lecture | Lab |",
        "|---|---|---|---|---|---|",
    ]
    for m in course.modules:
        runnable = m.status == "ready"
        lecture = course.badge(m.lecture) if runnable else "-"
        lab = course.badge(m.lab) if runnable and m.lab else "-"
        rows.append(f"| {m.number} | {m.title} | {m.framework} | {m.status} | {lecture} | {lab} |")
    return "\n".join([TABLE_BEGIN, *rows, TABLE_END])


def update_readme(readme: Path = ROOT / "README.md", check: bool = False) -> bool:
    """Rewrite the table between the markers in README.md. Returns True when the README was up to date."""
    text = readme.read_text()
    if TABLE_BEGIN not in text or TABLE_END not in text:
        raise ValueError(f"{readme}: expected the markers {TABLE_BEGIN!r} and {TABLE_END!r}")
    head, rest = text.split(TABLE_BEGIN, 1)
    _, tail = rest.split(TABLE_END, 1)
    new = head + readme_table() + tail
    if new == text:
        return True
    if not check:
        readme.write_text(new)
    return False
