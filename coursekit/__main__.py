"""Command line: ``python -m coursekit doctor | data list | data fetch NAME | readme [--check]``."""

from __future__ import annotations

import argparse
import sys
from importlib.metadata import PackageNotFoundError, version

# import name -> distribution names that provide it, per pyproject extra
EXTRAS = {
    "torch": {"torch": ("torch",), "torchvision": ("torchvision",)},
    "tf": {"tensorflow": ("tensorflow", "tensorflow-cpu"), "tensorflow_hub": ("tensorflow-hub",)},
    "course": {
        "jupyterlab": ("jupyterlab",), "ipywidgets": ("ipywidgets",), "matplotlib": ("matplotlib",),
        "tqdm": ("tqdm",), "skimage": ("scikit-image",), "sklearn": ("scikit-learn",),
        "jupyter_ui_poll": ("jupyter-ui-poll",),
        "otter": ("otter-grader",),
    },
    "dev": {"pytest": ("pytest",), "xdist": ("pytest-xdist",), "nbval": ("nbval",), "ruff": ("ruff",),
            "hypothesis": ("hypothesis",)},
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
    missing = []
    for extra, packages in EXTRAS.items():
        found = []
        for name, dists in packages.items():
            v = installed_version(dists)
            found.append(f"{name} {v}" if v else f"{name} MISSING")
            if v is None:
                missing.append((extra, name))
        print(f"[{extra}] " + ", ".join(found))
    if missing:
        extras = sorted({extra for extra, _ in missing})
        names = ", ".join(n for _, n in missing)
        print(f"missing: {names}; install with: pip install -e '.[{','.join(extras)}]'")
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
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "doctor":
            return doctor()
        if args.command == "data":
            return data_command(args)
        return readme_command(args)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
