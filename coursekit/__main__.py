"""Command line: ``python -m coursekit doctor | data list | data fetch NAME | readme [--check]``,
``assign [NN ...] [--check]``, ``expected [NN ...]``,
``grade --lab NN SUBMISSIONS_DIR --out grades.csv [--timeout SECONDS] [--memory-mb N] [--jobs N]``,
``marks --lab NN grades.csv grades_marks.csv``."""

from __future__ import annotations

import argparse
import sys
from importlib.metadata import PackageNotFoundError, version

# What a laptop or an instructor needs beyond Colab's runtime: on Colab the doctor does not ask for them.
NOT_ON_COLAB = {"jupyterlab", "otter"}
# import name -> distribution names that provide it, per pyproject extra
EXTRAS: dict[str, dict[str, tuple[str, ...]]] = {
    "torch": {"torch": ("torch",), "torchvision": ("torchvision",)},
    "tf": {"tensorflow": ("tensorflow", "tensorflow-cpu"), "tensorflow_hub": ("tensorflow-hub",)},
    "course": {
        "jupyterlab": ("jupyterlab",), "ipywidgets": ("ipywidgets",), "matplotlib": ("matplotlib",),
        "tqdm": ("tqdm",), "skimage": ("scikit-image",), "sklearn": ("scikit-learn",),
        "jupyter_ui_poll": ("jupyter-ui-poll",),
        "otter": ("otter-grader",),
    },
    "dev": {"pytest": ("pytest",), "xdist": ("pytest-xdist",), "nbval": ("nbval",), "ruff": ("ruff",),
            "hypothesis": ("hypothesis",), "playwright": ("playwright",), "mypy": ("mypy",)},
}


def installed_version(distributions: tuple[str, ...]) -> str | None:
    """The installed version of the first of ``distributions`` that is present, else None."""
    for dist in distributions:
        try:
            return version(dist)
        except PackageNotFoundError:
            continue
    return None


def doctor() -> int:
    """Print the environment, what is installed per extra, and what is missing. Exit 1 if torch is missing."""
    import coursekit
    from coursekit.data import registry

    print(coursekit.environment_line())
    print(f"python {sys.version.split()[0]} at {sys.executable}")
    print(f"cache dir: {registry.cache_dir()}")
    colab = coursekit.on_colab()
    missing = []
    for extra, packages in EXTRAS.items():
        found = []
        for name, dists in packages.items():
            if colab and name in NOT_ON_COLAB:
                continue
            v = installed_version(dists)
            found.append(f"{name} {v}" if v else f"{name} MISSING")
            if v is None:
                missing.append((extra, name))
        print(f"[{extra}] " + ", ".join(found))
    if missing:
        extras = sorted({extra for extra, _ in missing})
        names = ", ".join(n for _, n in missing)
        hint = "the setup cell's install of coursekit[colab]" if colab else \
            f"pip install -e '.[{','.join(extras)}]'"
        print(f"missing: {names}; install with: {hint}")
    else:
        print("everything the course needs is installed")
    return 1 if any(name == "torch" for _, name in missing) else 0


def data_command(args: argparse.Namespace) -> int:
    """``data list`` prints every registry entry; ``data fetch NAME`` downloads one into the cache."""
    from coursekit.data import registry

    if args.action == "list":
        for name in registry.names():
            print(registry.entry(name).summary())
        return 0
    try:
        path = registry.fetch(args.name, force=args.force)
    except registry.DownloadError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"{args.name}: {path}")
    return 0


def readme_command(args: argparse.Namespace) -> int:
    """Regenerate the README module table from course/course.yml (``--check``: fail if it is stale)."""
    from coursekit.course import update_readme

    up_to_date = update_readme(check=args.check)
    if args.check and not up_to_date:
        print("README.md module table is stale: run `python -m coursekit readme`", file=sys.stderr)
        return 1
    print("README.md module table is up to date" if up_to_date else "README.md module table rewritten")
    return 0


def assign_command(args: argparse.Namespace) -> int:
    """Generate the student labs and grading bundles (``--check``: exit 1 if a committed lab is stale)."""
    from coursekit.grading import assign

    selected = assign.targets(args.labs or None)
    if not selected:
        print("no solution notebooks listed in course/course.yml exist yet: nothing to assign")
        return 0
    problems = assign.assign(selected, check=args.check)
    if problems:
        listing = "\n  ".join(problems)
        print(f"labs out of date (run `python -m coursekit assign`):\n  {listing}", file=sys.stderr)
        return 1
    if args.check:
        print(f"labs up to date: {', '.join(str(t.lab.name) for t in selected)}")
    return 0


def expected_command(args: argparse.Namespace) -> int:
    """Re-run solution notebooks in record mode and rewrite solutions/expected/NN.npz (then run assign)."""
    from coursekit.grading import assign, store

    selected = assign.targets(args.labs or None)
    for target in selected:
        values = store.record_solution(target.solution, target.number)
        print(f"{store.path(target.number)}: {len(values)} values ({', '.join(sorted(values))})")
    return 0


def grade_command(args: argparse.Namespace) -> int:
    """Grade a folder of submissions into a CSV gradebook plus one feedback file per student."""
    import time
    from pathlib import Path

    from coursekit.grading import assign, grade

    bundle = assign.bundle_for(args.lab)
    start = time.monotonic()
    results = grade.grade_folder(bundle, Path(args.submissions), Path(args.out), timeout=args.timeout,
                                 memory_mb=args.memory_mb, jobs=args.jobs)
    print(f"{len(results)} submissions graded in {time.monotonic() - start:.0f} s: {args.out} "
          f"(feedback in {grade.feedback_dir(Path(args.out))})")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="coursekit", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("doctor", help="environment, GPU, online/offline, what is missing")
    data = sub.add_parser("data", help="the data and weights registry")
    data_sub = data.add_subparsers(dest="action", required=True)
    data_sub.add_parser("list", help="every dataset and weight file with source, size and licence")
    fetch = data_sub.add_parser("fetch", help="download one entry into the cache (checksum verified)")
    fetch.add_argument("name")
    fetch.add_argument("--force", action="store_true", help="download again even if cached")
    readme = sub.add_parser("readme", help="regenerate the README module table from course/course.yml")
    readme.add_argument("--check", action="store_true", help="exit 1 if the table is stale")
    labs_help = "module numbers (default: every existing solution)"
    assign = sub.add_parser("assign", help="generate labs/ and grading bundles (otter assign)")
    assign.add_argument("labs", nargs="*", metavar="NN", help=labs_help)
    assign.add_argument("--check", action="store_true", help="exit 1 if a committed lab is stale or missing")
    expected = sub.add_parser("expected", help="re-run solutions in record mode (solutions/expected/NN.npz)")
    expected.add_argument("labs", nargs="*", metavar="NN", help=labs_help)
    marks = sub.add_parser("marks", help="merge the marks of written questions into a gradebook")
    marks.add_argument("--lab", required=True, metavar="NN", help="module number of the lab")
    marks.add_argument("gradebook", help="the CSV written by `coursekit grade`")
    marks.add_argument("marks", help="the filled-in <stem>_marks.csv (student, one column per question)")
    grade = sub.add_parser("grade", help="grade a folder of submitted notebooks into a CSV gradebook")
    grade.add_argument("--lab", required=True, metavar="NN", help="module number of the lab")
    grade.add_argument("submissions", metavar="SUBMISSIONS_DIR", help="folder of NAME.ipynb (never written)")
    grade.add_argument("--out", required=True, help="the CSV gradebook; feedback goes to <stem>_feedback/")
    grade.add_argument("--timeout", type=float, default=600.0, help="seconds per submission (default 600)")
    grade.add_argument("--memory-mb", type=int, default=8192, help="memory limit per submission (8192)")
    grade.add_argument("--jobs", type=int, default=2, help="submissions graded at once (default 2)")
    return parser


def marks_command(args: argparse.Namespace) -> int:
    """Merge the instructor's marks of written questions into a gradebook."""
    from pathlib import Path

    from coursekit.grading import assign, grade

    grade.merge_marks(Path(args.gradebook), Path(args.marks), assign.bundle_for(args.lab))
    print(f"{args.gradebook}: written marks merged from {args.marks}, totals recomputed")
    return 0


COMMANDS = {"assign": assign_command, "expected": expected_command, "grade": grade_command,
            "marks": marks_command}


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "doctor":
            return doctor()
        if args.command == "data":
            return data_command(args)
        if args.command in COMMANDS:
            return COMMANDS[args.command](args)
        return readme_command(args)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
