"""Citations students can follow: every work is cited by authors and year, and every citation resolves.

Students have neither the course's source documents nor the developers' notes, so the notebooks, the course
documents and coursekit's docstrings and comments must not point at them ("seed 002", "slide 6", the notes
file, an issue number). A citation written as "Author et al. YYYY", "Author & Author YYYY",
"Author, Author & Author YYYY" or "Author YYYY" must name a level-3 heading of course/references.md.
One test per file, so a failure names the file.
"""

import ast
import io
import json
import re
import tokenize
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
REFERENCES = ROOT / "course" / "references.md"

# Pointers a student cannot follow.
FORBIDDEN = {
    "a source document by number": re.compile(
        r"\bseeds?\s+0\d\d\b|\bseeds?\s*/|\bseed (?:document|paper)s?\b", re.IGNORECASE),
    "a slide number": re.compile(r"\bslides?\s+\d+", re.IGNORECASE),
    "the developers' notes": re.compile(r"\bREFERENCES\.md\b"),
    "an issue": re.compile(r"\bissues?\s+#?\d+|\bthe issue\b|\bissue #\d+", re.IGNORECASE),
}

UPPER, LOWER = "A-ZÀ-ÖØ-Þ", "a-zß-öø-ÿ"
NAME = rf"(?:(?:van |de |von |Van )?[{UPPER}][{LOWER}]+(?:[-'][{UPPER}]?[{LOWER}]+)*)"
YEAR = r"(?:19|20)\d\d"
# Longest form first: at a given start, three authors beat two, two beat one.
CITATION = re.compile(
    rf"\b(?P<three>{NAME}(?:, {NAME})+(?:,? (?:&|and)|,) {NAME},? \(?{YEAR}\)?)"
    rf"|\b(?P<etal>{NAME} et al\.,? \(?{YEAR}\)?)"
    rf"|\b(?P<two>{NAME} (?:&|and) {NAME},? \(?{YEAR}\)?)"
    rf"|\b(?P<one>{NAME},? \(?{YEAR}\)?)(?![\d.])"
)
# Capitalised words that precede a year in ordinary text and are not authors.
NOT_AUTHORS = {
    "January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
    "November", "December", "Spring", "Summer", "Autumn", "Fall", "Winter", "In", "Since", "By", "Until",
    "From", "Before", "After", "Of", "The", "Copyright", "Python", "Colab", "Table", "Fig", "Figure",
    "Section", "Eq", "Lecture", "Set", "Windows", "Ubuntu", "Debian", "Version", "Torch", "Keras",
    "Workshop", "Workshops", "Conference", "Proceedings", "Challenge",
}


def reference_keys() -> set[str]:
    return {normalise(line[4:]) for line in REFERENCES.read_text().splitlines() if line.startswith("### ")}


def normalise(citation: str) -> str:
    text = citation.replace(" and ", " & ").replace("(", "").replace(")", "")
    text = re.sub(r",(?= (?:&|(?:19|20)\d\d\b))", "", text)  # "Dong et al., 2014" and "A, B, & C"
    text = re.sub(r", ([^,&]+ (?:19|20)\d\d)$", r" & \1", text)  # "A, B, C 1992" -> "A, B & C 1992"
    return re.sub(r"\s+", " ", text).strip()


def citations(text: str) -> list[str]:
    found = []
    for match in CITATION.finditer(text):
        kind = match.lastgroup
        cited = match.group(kind)
        if kind == "one" and cited.split()[0].rstrip(",") in NOT_AUTHORS:
            continue
        found.append(normalise(cited))
    return found


def notebook_text(path: Path) -> str:
    cells = json.loads(path.read_text())["cells"]
    return "\n".join("".join(c["source"]) if isinstance(c["source"], list) else c["source"] for c in cells)


def python_prose(path: Path) -> str:
    """Docstrings and comments of a Python file: what coursekit says in words."""
    source = path.read_text()
    parts = [tok.string for tok in tokenize.generate_tokens(io.StringIO(source).readline)
             if tok.type == tokenize.COMMENT]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            doc = ast.get_docstring(node, clean=False)
            if doc:
                parts.append(doc)
    return "\n".join(parts)


def course_files() -> list[Path]:
    files = sorted(p for d in ("lectures", "labs", "solutions") for p in (ROOT / d).glob("*.ipynb"))
    files += sorted(p for p in (ROOT / "course").iterdir() if p.suffix in (".md", ".yml"))
    files += sorted((ROOT / "coursekit").rglob("*.py"))
    return files


def prose(path: Path) -> str:
    if path.suffix == ".ipynb":
        return notebook_text(path)
    if path.suffix == ".py":
        return python_prose(path)
    return path.read_text()


@pytest.mark.parametrize("path", course_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_pointer_students_cannot_follow(path):
    text = prose(path)
    if path == REFERENCES:  # the bibliography describes the source documents themselves
        text = ""
    hits = [f"{what}: {m.group(0)!r} in {text[max(m.start() - 40, 0):m.end() + 20]!r}"
            for what, pattern in FORBIDDEN.items() for m in pattern.finditer(text)]
    assert not hits, "cite the work by author and year instead:\n" + "\n".join(hits)


@pytest.mark.parametrize("path", course_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_every_citation_is_in_the_references(path):
    if path == REFERENCES:  # its entries name venues and years ("CVPR Workshops 2017"), not citations
        return
    keys = reference_keys()
    missing = sorted({c for c in citations(prose(path)) if c not in keys})
    assert not missing, f"add these works to course/references.md (### Author et al. YYYY): {missing}"


def test_every_module_names_its_sources_by_a_reference_key():
    from coursekit.course import load

    keys = reference_keys()
    for module in load().modules:
        unknown = [s for s in module.sources if not any(s == k or s.startswith(k + " (") for k in keys)]
        assert not unknown, f"module {module.number}: sources {unknown} must start with a references.md key"


def test_references_have_unique_keys_with_a_year_or_source_document():
    headings = [line[4:] for line in REFERENCES.read_text().splitlines() if line.startswith("### ")]
    assert len(headings) == len(set(headings)), "a work is listed twice"
    assert "Kingma & Welling 2014" in headings


@pytest.mark.parametrize("text, expected", [
    ("the 1-D figure of Goodfellow et al. 2014 (Fig. 1)", ["Goodfellow et al. 2014"]),
    ("as Kingma and Welling (2014) show", ["Kingma & Welling 2014"]),
    ("total variation (Rudin, Osher & Fatemi 1992)", ["Rudin, Osher & Fatemi 1992"]),
    ("(Rudin, Osher, Fatemi 1992) and Pérez et al. 2003",
     ["Rudin, Osher & Fatemi 1992", "Pérez et al. 2003"]),
    ("Dong et al., 2016 and Ledig et al. 2017 Table 2", ["Dong et al. 2016", "Ledig et al. 2017"]),
    ("Trpceski & Gleason 2025 repair photos", ["Trpceski & Gleason 2025"]),
    ("MSE Gatys 2016", ["Gatys 2016"]),
    ("In 2014, GANs; PyTorch 2.4 and Python 3.11; Spring 2025; ICASSP 2018; Set5 x4; 2016 images", []),
])
def test_the_citation_pattern(text, expected):
    assert citations(text) == expected


@pytest.mark.parametrize("text, bad", [
    ("as seed 002 shows", True), ("(seeds 001, 003)", True), ("slides 16-19", True),
    ("see REFERENCES.md", True),
    ("issue 7 asks", True), ("seed=0 and three seeds of the run", False), ("course/references.md", False),
])
def test_the_forbidden_patterns(text, bad):
    assert any(p.search(text) for p in FORBIDDEN.values()) == bad
