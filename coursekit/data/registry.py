"""The data registry: every dataset and weight file the course can fetch, where from, and how it is checked.

An :class:`Entry` names its files (each with mirror URLs, a checksum and a size), its licence and the offline
stand-in used when it cannot be had. Files live in the cache dir (env ``COURSEKIT_CACHE``, default
``~/.cache/coursekit``) under ``<cache>/<entry name>/``. ``COURSEKIT_OFFLINE=1`` forces offline mode: no
network is touched at all.

Checksums are written ``"<algorithm>:<hex>"`` with algorithm ``sha256``, ``md5`` or ``sha256-prefix``
(a leading part of the sha256, as carried by torchvision weight file names such as ``vgg19-dcbb9e9d.pth``).
Every value below is copied from an upstream publication named in the entry's ``checksum_source``; none is
invented. A file without a confirmed checksum is marked unverified and :func:`fetch` refuses it.
"""

from __future__ import annotations

import os
import socket
import threading
from dataclasses import dataclass
from pathlib import Path

from ..errors import expect_choice

ENV_CACHE = "COURSEKIT_CACHE"
ENV_OFFLINE = "COURSEKIT_OFFLINE"
SOURCES = ("auto", "online", "offline")
CHECKSUM_ALGORITHMS = ("sha256", "md5", "sha256-prefix")
# Hosts tried (in order) by is_online: by name, since downloads need DNS as much as a route.
PROBE_HOSTS = (("download.pytorch.org", 443), ("storage.googleapis.com", 443))

_online_cache: dict[str, bool] = {}


class DownloadError(RuntimeError):
    """A file could not be fetched. ``reason`` is short: 'offline forced', 'unreachable', 'checksum mismatch',
    'manual download' or 'unverified'; the message says what to do."""

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class RemoteFile:
    """One file of an entry: its name in the cache, mirror URLs, ``"<algorithm>:<hex>"`` checksum, bytes."""

    filename: str
    urls: tuple[str, ...]
    checksum: str | None
    size: int | None = None

    def __post_init__(self):
        if self.checksum is not None:
            algorithm, _, digest = self.checksum.partition(":")
            expect_choice("checksum algorithm", algorithm, CHECKSUM_ALGORITHMS)
            if not digest or any(c not in "0123456789abcdef" for c in digest):
                raise ValueError(
                    f"checksum of {self.filename}: expected lowercase hex digits, got {digest!r}"
                )


@dataclass(frozen=True)
class Entry:
    """A named dataset or set of weights.

    ``kind`` is 'dataset', 'weights' or 'tfhub' (a TF-Hub handle: TF-Hub downloads and caches it itself, so
    coursekit only records the URL). ``manual`` entries (e.g. CelebA on Google Drive) cannot be fetched
    automatically: ``how_to_get`` says how to place the files in the cache by hand.
    """

    name: str
    title: str
    kind: str
    licence: str
    stand_in: str
    files: tuple[RemoteFile, ...] = ()
    url: str | None = None
    manual: bool = False
    how_to_get: str = ""
    checksum_source: str = ""
    notes: str = ""

    @property
    def size(self) -> int | None:
        """Total bytes of all files, or None when a size is unknown."""
        sizes = [f.size for f in self.files if f.size is not None]
        return sum(sizes) if sizes and len(sizes) == len(self.files) else None

    @property
    def verified(self) -> bool:
        """True when every file has a published checksum to check downloads against."""
        return bool(self.files) and all(f.checksum for f in self.files)

    @property
    def downloadable(self) -> bool:
        """True when :func:`fetch` can get this entry without a person in the loop."""
        return self.kind != "tfhub" and not self.manual and self.verified

    def directory(self) -> Path:
        """Where this entry's files live: ``<cache>/<name>/``."""
        return cache_dir() / self.name

    def path(self, filename: str) -> Path:
        """The cache path of one of this entry's files."""
        expect_choice(f"file of {self.name}", filename, [f.filename for f in self.files])
        return self.directory() / filename

    def summary(self) -> str:
        """A printable multi-line description (for ``python -m coursekit data``)."""
        size = f"{self.size / 1e6:,.1f} MB" if self.size else "unknown size"
        status = (
            "TF-Hub handle (TF-Hub caches it)"
            if self.kind == "tfhub"
            else "manual download"
            if self.manual
            else "downloadable, checksum verified"
            if self.verified
            else "NOT downloadable: no confirmed checksum"
        )
        lines = [
            f"{self.name}: {self.title}",
            f"  kind: {self.kind}; {size}; {status}",
            f"  licence: {self.licence}",
        ]
        if self.url:
            lines.append(f"  url: {self.url}")
        for f in self.files:
            lines.append(
                f"  file {f.filename}: {f.checksum or 'unverified'}; {f.urls[0] if f.urls else 'no URL'}"
            )
        if self.checksum_source:
            lines.append(f"  checksums from: {self.checksum_source}")
        if self.how_to_get:
            lines.append(f"  how to get: {self.how_to_get}")
        lines.append(f"  offline stand-in: {self.stand_in}")
        if self.notes:
            lines.append(f"  notes: {self.notes}")
        return "\n".join(lines)


def _mnist_file(filename: str, sha256: str, size: int) -> RemoteFile:
    mirrors = (
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
        "https://storage.googleapis.com/cvdf-datasets/mnist/",
    )
    return RemoteFile(filename, tuple(m + filename for m in mirrors), f"sha256:{sha256}", size)


def _celeba_file(filename: str, md5: str) -> RemoteFile:
    return RemoteFile(filename, (), f"md5:{md5}")


def _div2k_file(filename: str, sha256: str, size: int) -> RemoteFile:
    return RemoteFile(
        filename, (f"https://data.vision.ee.ethz.ch/cvl/DIV2K/{filename}",), f"sha256:{sha256}", size
    )


REGISTRY: dict[str, Entry] = {
    e.name: e
    for e in (
        Entry(
            name="mnist",
            title="MNIST handwritten digits (LeCun, Cortes, Burges), 60,000 train + 10,000 test, 28x28",
            kind="dataset",
            licence="CC BY-SA 3.0 (as distributed by Yann LeCun and Corinna Cortes)",
            stand_in="scikit-learn's bundled handwritten digits (1,797 real 8x8 digits, resized)",
            files=(
                _mnist_file(
                    "train-images-idx3-ubyte.gz",
                    "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
                    9912422,
                ),
                _mnist_file(
                    "train-labels-idx1-ubyte.gz",
                    "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
                    28881,
                ),
                _mnist_file(
                    "t10k-images-idx3-ubyte.gz",
                    "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
                    1648877,
                ),
                _mnist_file(
                    "t10k-labels-idx1-ubyte.gz",
                    "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
                    4542,
                ),
            ),
            url="http://yann.lecun.com/exdb/mnist/",
            checksum_source="sha256 and sizes: tensorflow/datasets url_checksums/mnist.txt; the same "
            "files carry torchvision's md5s (datasets/mnist.py: f68b3c2d..., d53e105e..., 9fb629c4..., "
            "ec29112d...)",
        ),
        Entry(
            name="celeba",
            title="CelebA aligned & cropped faces (Liu et al. 2015), 202,599 images, 40 binary attributes",
            kind="dataset",
            licence="non-commercial research use only (CelebA agreement)",
            stand_in="procedural 64x64 faces with 7 binary attributes (coursekit.data.faces)",
            files=(
                _celeba_file("img_align_celeba.zip", "00d2c5bc6d35e252742224ab0c1e8fcb"),
                _celeba_file("list_attr_celeba.txt", "75e246fa4810816ffd6ee81facbd244c"),
                _celeba_file("list_eval_partition.txt", "d32c9cbf5e040fd4025c592c306e6668"),
            ),
            url="https://mmlab.ie.cuhk.edu.hk/projects/CelebA.html",
            manual=True,
            how_to_get="CelebA is hosted on Google Drive, which rate-limits scripted downloads. Download "
            "img_align_celeba.zip, list_attr_celeba.txt and list_eval_partition.txt from the CelebA page "
            "and put them (unchanged) in <cache>/celeba/; coursekit then checks their md5 and uses them.",
            checksum_source="md5: torchvision datasets/celeba.py file_list",
        ),
        Entry(
            name="vgg19",
            title="VGG19 ImageNet-1K weights (Simonyan & Zisserman 2015), torchvision IMAGENET1K_V1",
            kind="weights",
            licence="BSD-3-Clause (torchvision); trained on ImageNet (non-commercial research terms)",
            stand_in="VGG19 with random weights (the perceptual/style losses then only measure random "
            "features; the notebooks say so loudly)",
            files=(
                RemoteFile(
                    "vgg19-dcbb9e9d.pth",
                    ("https://download.pytorch.org/models/vgg19-dcbb9e9d.pth",),
                    "sha256-prefix:dcbb9e9d",
                    None,
                ),
            ),
            checksum_source="sha256 prefix in the file name (torchvision's hub convention, models/vgg.py); "
            "torchvision lists the file as about 548.05 MB but not its exact byte count",
        ),
        Entry(
            name="keras_vgg19_notop",
            title="VGG19 ImageNet weights for Keras without the classifier head (convolutional layers only)",
            kind="weights",
            licence="CC BY 4.0 (VGG weights by the Oxford VGG group); trained on ImageNet",
            stand_in="Keras VGG19 with seeded random (He-normal) weights; lecture 11 says so loudly",
            files=(
                RemoteFile(
                    "vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5",
                    (
                        "https://storage.googleapis.com/tensorflow/keras-applications/vgg19/"
                        "vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5",
                    ),
                    "md5:253f8cb515780f3b799900260a226db6",
                    None,
                ),
            ),
            checksum_source="md5 file_hash in Keras source, keras/src/applications/vgg19.py (Keras 3.15)",
        ),
        Entry(
            name="keras_vgg19",
            title="VGG19 ImageNet weights for Keras with the 1000-class head (143.7M float32 parameters)",
            kind="weights",
            licence="CC BY 4.0 (VGG weights by the Oxford VGG group); trained on ImageNet",
            stand_in="Keras VGG19 with seeded random weights: its top-5 labels then mean nothing",
            files=(
                RemoteFile(
                    "vgg19_weights_tf_dim_ordering_tf_kernels.h5",
                    (
                        "https://storage.googleapis.com/tensorflow/keras-applications/vgg19/"
                        "vgg19_weights_tf_dim_ordering_tf_kernels.h5",
                    ),
                    "md5:cbe5617147190e668d6c5d5026f83318",
                    None,
                ),
            ),
            checksum_source="md5 file_hash in Keras source, keras/src/applications/vgg19.py (Keras 3.15)",
        ),
        Entry(
            name="div2k_valid_hr",
            title="DIV2K validation high-resolution images (Agustsson & Timofte 2017), 100 PNGs, 2K",
            kind="dataset",
            licence="academic research use only (NTIRE 2017 / DIV2K terms)",
            stand_in="scikit-image and scikit-learn bundled photos (coursekit.data.photos)",
            files=(
                _div2k_file(
                    "DIV2K_valid_HR.zip",
                    "20dd31fd84d777bc1cf5d6b7654a3f569c0aec74458ae094122ad1d0489900fc",
                    448993893,
                ),
            ),
            url="https://data.vision.ee.ethz.ch/cvl/DIV2K/",
            checksum_source="sha256 and size: tensorflow/datasets url_checksums/div2k.txt",
        ),
        Entry(
            name="div2k_train_hr",
            title="DIV2K training high-resolution images (Agustsson & Timofte 2017), 800 PNGs, 2K",
            kind="dataset",
            licence="academic research use only (NTIRE 2017 / DIV2K terms)",
            stand_in="scikit-image and scikit-learn bundled photos (coursekit.data.photos)",
            files=(
                _div2k_file(
                    "DIV2K_train_HR.zip",
                    "9d0b9c463f6e35b6c62cc6a930ee2224f670b34c1df841a57670f9acf0f6c335",
                    3530603713,
                ),
            ),
            url="https://data.vision.ee.ethz.ch/cvl/DIV2K/",
            checksum_source="sha256 and size: tensorflow/datasets url_checksums/div2k.txt",
        ),
        Entry(
            name="tfhub_stylization",
            title="Magenta arbitrary image stylization v1-256 (Ghiasi et al. 2017), TF-Hub SavedModel",
            kind="tfhub",
            licence="Apache-2.0",
            stand_in="the course's own small fast-stylization SavedModel (lecture 11)",
            url="https://tfhub.dev/google/magenta/arbitrary-image-stylization-v1-256/2",
            notes="load with tensorflow_hub.load(url); TF-Hub keeps its own cache (env TFHUB_CACHE_DIR).",
        ),
    )
}


def names() -> list[str]:
    """All registered entry names, sorted."""
    return sorted(REGISTRY)


def entry(name: str) -> Entry:
    """The registry entry called ``name``; an unknown name raises ValueError with close-name suggestions."""
    return REGISTRY[expect_choice("data registry entry", name, names())]


def cache_dir() -> Path:
    """The cache directory: env ``COURSEKIT_CACHE`` or ``~/.cache/coursekit`` (not created here)."""
    configured = os.environ.get(ENV_CACHE, "").strip()
    return Path(configured).expanduser() if configured else Path.home() / ".cache" / "coursekit"


def offline_forced() -> bool:
    """True when env ``COURSEKIT_OFFLINE`` is set to a true value (1, true, yes, on)."""
    return os.environ.get(ENV_OFFLINE, "").strip().lower() in ("1", "true", "yes", "on")


def _connects(host: str, port: int, timeout: float) -> bool:
    """Whether a TCP connection to host:port opens within ``timeout`` s, DNS included (run in a daemon
    thread, because name resolution ignores socket timeouts)."""
    result: list[bool] = []

    def attempt():
        try:
            with socket.create_connection((host, port), timeout=timeout):
                result.append(True)
        except OSError:
            result.append(False)

    worker = threading.Thread(target=attempt, daemon=True)
    worker.start()
    worker.join(timeout)
    return bool(result and result[0])


def is_online(timeout: float = 2.0) -> bool:
    """A quick TCP connect to a known host; the answer is cached for the process.

    False at once (no network touched) when ``COURSEKIT_OFFLINE=1``.
    """
    if offline_forced():
        return False
    if "online" not in _online_cache:
        _online_cache["online"] = any(_connects(host, port, timeout) for host, port in PROBE_HOSTS)
    return _online_cache["online"]


def network_status() -> str:
    """'online', 'offline (COURSEKIT_OFFLINE=1)' or 'offline (no network)'."""
    if offline_forced():
        return f"offline ({ENV_OFFLINE}=1)"
    return "online" if is_online() else "offline (no network)"


def expect_source(source: str) -> str:
    """Check a ``source`` argument: 'auto', 'online' or 'offline'."""
    return expect_choice("source", source, SOURCES)


def fetch(name: str, force: bool = False) -> Path:
    """Download every file of entry ``name`` into ``<cache>/<name>/`` (checksums verified); return the folder.

    Files already in the cache with the right checksum are not downloaded again unless ``force``.
    Raises :class:`DownloadError` when offline is forced, the hosts are unreachable, a checksum does not
    match, or the entry is manual/unverified/a TF-Hub handle (the message says what to do instead).
    """
    from .download import download_file

    item = entry(name)
    if item.kind == "tfhub":
        raise DownloadError(
            "tfhub",
            f"{name} is a TF-Hub handle: tensorflow_hub.load({item.url!r}) downloads and caches it itself",
        )
    if item.manual:
        if not cached(name):
            raise DownloadError(
                "manual download",
                f"{name} cannot be downloaded automatically; {manual_problems(item)}. {item.how_to_get}",
            )
        return item.directory()
    if not item.verified:
        raise DownloadError(
            "unverified", f"{name} has no confirmed checksum, so coursekit will not download it"
        )
    if offline_forced():
        raise DownloadError("offline forced", f"cannot fetch {name}: {ENV_OFFLINE}=1 forces offline mode")
    for remote in item.files:
        download_file(remote, item.path(remote.filename), force=force)
    return item.directory()


def manual_problems(item: Entry) -> str:
    """What is wrong with a manual entry's files in the cache, file by file (missing, or the expected and
    actual checksum); the files themselves are left as they are."""
    from .download import describe_mismatch

    problems = []
    for remote in item.files:
        problem = describe_mismatch(item.path(remote.filename), remote.checksum)
        if problem:
            problems.append(f"{remote.filename}: {problem}")
    return f"{item.name} is a manual download; in {item.directory()}: {'; '.join(problems) or 'all present'}"


def cached(name: str) -> bool:
    """True when every file of entry ``name`` is in the cache and matches its checksum (no network)."""
    from .download import verify_file

    item = entry(name)
    return bool(item.files) and all(verify_file(item.path(f.filename), f.checksum) for f in item.files)
