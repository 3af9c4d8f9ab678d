"""Downloading with checksums, atomic writes and honest fallbacks.

A download streams into a hidden temp file in the destination folder, hashing as it goes; only a file whose
checksum (and size, when known) matches is moved into place with ``os.replace``, so the cache never holds a
partial or wrong file. Connections time out after a few seconds instead of hanging. A tqdm bar shows bytes
received against the expected size (from the registry, else the server's Content-Length).

:func:`resolve` is what the dataset loaders call: it decides between the online source and the offline
stand-in for ``source="auto"|"online"|"offline"`` and prints a one-line notice when it falls back.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import urllib.request
from pathlib import Path

from ..ui.base import progress_bar
from . import registry
from .registry import DownloadError, RemoteFile

CONNECT_TIMEOUT = 5.0
CHUNK_BYTES = 1 << 20

_verified: set[tuple[str, int, int, str]] = set()


def _hasher(checksum: str):
    algorithm = checksum.partition(":")[0]
    return hashlib.md5() if algorithm == "md5" else hashlib.sha256()


def digest_matches(hexdigest: str, checksum: str) -> bool:
    """Compare a computed hex digest with ``"<algorithm>:<hex>"`` (a prefix match for ``sha256-prefix``)."""
    algorithm, _, expected = checksum.partition(":")
    return hexdigest.startswith(expected) if algorithm == "sha256-prefix" else hexdigest == expected


def file_digest(path: Path, checksum: str) -> str:
    """The hex digest of ``path`` by the algorithm of ``checksum`` (``"<algorithm>:<hex>"``)."""
    hasher = _hasher(checksum)
    with Path(path).open("rb") as handle:
        for chunk in iter(lambda: handle.read(CHUNK_BYTES), b""):
            hasher.update(chunk)
    return hasher.hexdigest()


def describe_mismatch(path: Path, checksum: str | None) -> str | None:
    """None when ``path`` matches ``checksum``, else what is wrong: 'missing', or the expected and actual
    checksum (``"expected md5:..., got <hex> (N bytes)"``)."""
    path = Path(path)
    if not path.is_file():
        return "missing"
    if checksum is None:
        return "no checksum to check it against"
    if verify_file(path, checksum):
        return None
    algorithm = checksum.partition(":")[0]
    digest = file_digest(path, checksum)
    return f"expected {checksum}, got {algorithm} {digest} ({path.stat().st_size:,} bytes)"


def verify_file(path: Path, checksum: str | None) -> bool:
    """True when ``path`` exists and matches ``checksum`` (remembered per process by path, size and mtime)."""
    path = Path(path)
    if checksum is None or not path.is_file():
        return False
    stat = path.stat()
    key = (str(path), stat.st_size, stat.st_mtime_ns, checksum)
    if key in _verified:
        return True
    hasher = _hasher(checksum)
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(CHUNK_BYTES), b""):
            hasher.update(chunk)
    if digest_matches(hasher.hexdigest(), checksum):
        _verified.add(key)
        return True
    return False


def _expected_bytes(remote: RemoteFile, response) -> int | None:
    """The size to show progress against: the registry's, else the server's Content-Length, else unknown."""
    if remote.size is not None:
        return remote.size
    length = response.headers.get("Content-Length")
    return int(length) if length and length.isdigit() else None


def _download_once(url: str, remote: RemoteFile, checksum: str, dest: Path, timeout: float) -> None:
    """Stream ``url`` to a temp file beside ``dest``, check it against ``remote``'s size and ``checksum``,
    then atomically move it into place."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    handle = tempfile.NamedTemporaryFile(
        dir=dest.parent, prefix=f".{dest.name}.", suffix=".part", delete=False
    )
    temp = Path(handle.name)
    try:
        hasher = _hasher(checksum)
        received = 0
        with handle, urllib.request.urlopen(url, timeout=timeout) as response:
            total = _expected_bytes(remote, response)
            with progress_bar(total=total, unit="B", unit_scale=True, unit_divisor=1024,
                              desc=remote.filename) as bar:
                for chunk in iter(lambda: response.read(CHUNK_BYTES), b""):
                    handle.write(chunk)
                    hasher.update(chunk)
                    received += len(chunk)
                    bar.update(len(chunk))
        if remote.size is not None and received != remote.size:
            raise DownloadError(
                "checksum mismatch", f"{url}: expected {remote.size:,} bytes, got {received:,}"
            )
        if not digest_matches(hasher.hexdigest(), checksum):
            raise DownloadError(
                "checksum mismatch",
                f"{url}: expected {checksum}, got {checksum.partition(':')[0]} {hasher.hexdigest()}",
            )
        os.replace(temp, dest)
    finally:
        temp.unlink(missing_ok=True)


def download_file(
    remote: RemoteFile, dest: Path, force: bool = False, timeout: float = CONNECT_TIMEOUT
) -> Path:
    """Get ``remote`` into ``dest``, trying its mirrors in turn; returns ``dest``.

    A verified file already at ``dest`` is kept (no network) unless ``force``. Raises DownloadError with
    reason 'checksum mismatch' if any mirror served wrong bytes, else 'unreachable'.
    """
    dest = Path(dest)
    if remote.checksum is None:
        raise DownloadError(
            "unverified", f"{remote.filename} has no confirmed checksum; refusing to download it"
        )
    if not force and verify_file(dest, remote.checksum):
        return dest
    errors: list[DownloadError | OSError] = []
    for url in remote.urls:
        try:
            _download_once(url, remote, remote.checksum, dest, timeout)
            return dest
        except (DownloadError, OSError) as error:  # urllib.error.URLError and socket timeouts are OSErrors
            errors.append(error)
    mismatch = [e for e in errors if isinstance(e, DownloadError)]
    if mismatch:
        raise DownloadError("checksum mismatch", f"{remote.filename}: {mismatch[0]}")
    detail = "; ".join(str(getattr(e, "reason", e)) for e in errors) or "no URL"
    raise DownloadError("unreachable", f"{remote.filename}: no mirror reachable ({detail})")


def announce(name: str, description: str) -> str:
    """Print and return the one line that says which source a load used."""
    line = f"data: {name} <- {description}"
    print(line)
    return line


def fallback_notice(name: str, reason: str) -> str:
    """Print and return the one-line notice that a load falls back to its offline stand-in, and why."""
    line = f"data: {name}: online source not used ({reason}); falling back to the offline stand-in"
    print(line)
    return line


def resolve(name: str, source: str, dataset: str | None = None) -> Path | None:
    """Decide where registry entry ``name`` comes from: its cache folder, or None for the offline stand-in.

    ``source="offline"`` -> None. ``"online"`` -> fetch (errors propagate). ``"auto"`` -> the cache if it
    holds verified files, else a download when allowed and reachable, else None after a one-line notice
    saying why (offline forced / manual download missing or not matching its checksum / unreachable /
    checksum mismatch). ``dataset`` is the name printed in that notice (defaults to ``name``).
    """
    registry.expect_source(source)
    item = registry.entry(name)
    label = dataset or name
    if source == "offline":
        return None
    if source == "online":
        return registry.fetch(name)
    if registry.cached(name):
        return item.directory()
    if registry.offline_forced():
        fallback_notice(label, f"offline forced by {registry.ENV_OFFLINE}=1")
        return None
    if item.manual:
        fallback_notice(label, registry.manual_problems(item))
        return None
    if not registry.is_online():
        fallback_notice(label, "network unreachable")
        return None
    try:
        return registry.fetch(name)
    except DownloadError as error:
        fallback_notice(label, f"{error.reason}: {error}")
        return None
