"""Run a command under a memory limit: ``python -m coursekit.grading.limits MEMORY_MB COMMAND ...``.

The limit (``RLIMIT_AS``, the address space) is set in this small launcher, which then replaces itself with
the command (``os.execvp``), so the command and every process it starts (otter's kernel) inherit it. Doing
it here rather than in a ``preexec_fn`` keeps the grader safe to use from threads. Core dumps are disabled.
"""

from __future__ import annotations

import os
import resource
import sys


def limit_memory(megabytes: int) -> None:
    """Cap the address space of this process and its future children at ``megabytes``."""
    limit = int(megabytes) << 20
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def main(argv: list[str]) -> None:
    if len(argv) < 2 or not argv[0].isdigit():
        raise SystemExit("usage: python -m coursekit.grading.limits MEMORY_MB COMMAND [ARG ...]")
    limit_memory(int(argv[0]))
    os.execvp(argv[1], argv[1:])


if __name__ == "__main__":
    main(sys.argv[1:])
