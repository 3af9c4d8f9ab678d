"""Faces: procedural 64x64 colour faces with binary attributes offline, CelebA when its files are cached.

The procedural faces are drawn as layers of boolean masks over a coordinate grid (background, shoulders,
hair, face, features, accessories), all in torch, for a whole batch at once. Seven binary attributes, each
drawn independently with probability 1/2, change a visible part of the picture:

- ``smiling``: an open smile with teeth instead of a closed straight mouth
- ``eyeglasses``: dark rims around both eyes, a bridge and temples
- ``dark_hair``: black/dark-brown hair (and eyebrows, beard) instead of blond/light brown
- ``bangs``: a fringe of hair over the forehead
- ``hat``: a coloured hat with a brim on top of the head
- ``beard``: hair over the lower face around the mouth
- ``male``: short hair and a wider jaw instead of long hair down to the shoulders

Nuisance factors vary too (skin tone, face width and height, eye spacing, position and scale jitter,
background gradient, clothes and hat colour) so that a GAN has a distribution to learn, not a template.
Names follow CelebA's attributes (Smiling, Eyeglasses, Black_Hair, Bangs, Wearing_Hat, not No_Beard, Male),
so the same code runs on either source.
"""

from __future__ import annotations

import io
import math
import zipfile
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from ..errors import expect_positive_int
from . import registry
from .digits import resize_images
from .download import announce, resolve

ATTRIBUTE_NAMES = ("smiling", "eyeglasses", "dark_hair", "bangs", "hat", "beard", "male")
# CelebA column for each attribute, and whether the column is negated (CelebA stores No_Beard).
CELEBA_COLUMNS = {
    "smiling": ("Smiling", False),
    "eyeglasses": ("Eyeglasses", False),
    "dark_hair": ("Black_Hair", False),
    "bangs": ("Bangs", False),
    "hat": ("Wearing_Hat", False),
    "beard": ("No_Beard", True),
    "male": ("Male", False),
}
# The 18 CelebA attributes of Perarnau et al. 2016 / Guim3/IcGAN (columns of list_attr_celeba.txt).
CELEBA_18 = (
    "Bald", "Bangs", "Black_Hair", "Blond_Hair", "Brown_Hair", "Bushy_Eyebrows", "Eyeglasses", "Gray_Hair",
    "Heavy_Makeup", "Male", "Mouth_Slightly_Open", "Mustache", "Pale_Skin", "Receding_Hairline", "Smiling",
    "Straight_Hair", "Wavy_Hair", "Wearing_Hat",
)
ICGAN_COLUMNS = {column.lower(): (column, False) for column in CELEBA_18}
NATIVE_SIZE = 64
RENDER_CHUNK = 256
CELEBA_CHUNK = 256  # CelebA pictures decoded at 178x178 before each resize (bounded memory)
LFW_FACES = 100  # lfw_subset(): images 0..99 are faces, 100..199 are non-face background crops


class Faces(Dataset):
    """Faces (N, 3, S, S) in [0, 1] with binary attributes (N, A); ``dataset[i] -> (image, attributes)``."""

    def __init__(
        self,
        images: torch.Tensor,
        attributes: torch.Tensor,
        source: str,
        attribute_names: tuple[str, ...] = ATTRIBUTE_NAMES,
    ):
        if attributes.shape != (len(images), len(attribute_names)):
            raise ValueError(
                f"attributes: expected shape {(len(images), len(attribute_names))}, "
                f"got {tuple(attributes.shape)}"
            )
        self.images = images
        self.attributes = attributes
        self.source = source
        self.attribute_names = attribute_names

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.images[index], self.attributes[index]

    def __repr__(self) -> str:
        return f"Faces({len(self)} images of shape {tuple(self.images.shape[1:])}, {self.source})"


def sample_face_params(n: int, seed: int = 0) -> dict[str, torch.Tensor]:
    """Draw the attributes (n, 7) and every nuisance parameter of ``n`` faces from a seeded generator."""
    expect_positive_int("n", n)
    g = torch.Generator().manual_seed(seed)

    def uniform(low: float, high: float, *shape: int) -> torch.Tensor:
        return low + (high - low) * torch.rand(n, *shape, generator=g)

    attributes = (torch.rand(n, len(ATTRIBUTE_NAMES), generator=g) < 0.5).float()
    light, dark = torch.tensor([0.96, 0.80, 0.69]), torch.tensor([0.42, 0.28, 0.20])
    tone = uniform(0, 1, 1)
    blond, black = torch.tensor([0.88, 0.72, 0.38]), torch.tensor([0.10, 0.07, 0.05])
    return {
        "attributes": attributes,
        "skin": (light + (dark - light) * tone + uniform(-0.03, 0.03, 3)).clamp(0, 1),
        "light_hair": (blond * uniform(0.75, 1.05, 1) + uniform(-0.05, 0.05, 3)).clamp(0, 1),
        "dark_hair": (black + uniform(0.0, 0.18, 1) * torch.tensor([1.0, 0.75, 0.5])).clamp(0, 1),
        "background_top": uniform(0.1, 0.95, 3),
        "background_bottom": uniform(0.1, 0.95, 3),
        "clothes": uniform(0.05, 0.9, 3),
        "hat_colour": uniform(0.1, 0.9, 3),
        "centre": uniform(-0.08, 0.08, 2),
        "scale": uniform(0.88, 1.08),
        "face_width": uniform(0.40, 0.50),
        "face_height": uniform(0.54, 0.64),
        "eye_spacing": uniform(0.17, 0.23),
    }


def _grid(size: int) -> tuple[torch.Tensor, torch.Tensor]:
    centres = (torch.arange(size, dtype=torch.float32) + 0.5) / size * 2 - 1
    return centres[None, None, :], centres[None, :, None]  # x (1, 1, S) to the right, y (1, S, 1) downwards


class _Canvas:
    """Layers of flat colours painted in order; each pixel keeps the index of the last layer that covered it.

    Layer indices grow with painting order, so "the last layer wins" is a running maximum: one byte per pixel
    per layer instead of blending three floats. :meth:`compose` looks every colour up once at the end.
    """

    def __init__(self, n: int, size: int):
        self.n = n
        self.layer = torch.zeros(n, size, size, dtype=torch.uint8)
        self.colours = [torch.zeros(n, 3)]  # layer 0: the background, added by compose

    def paint(self, mask: torch.Tensor, colour: torch.Tensor, rows: slice = slice(None)) -> None:
        """Cover the pixels where ``mask`` is True with ``colour`` (n, 3) or (3,); ``mask`` covers the image
        rows ``rows`` (all by default) and broadcasts to (n, len(rows), S)."""
        self.colours.append(colour.expand(self.n, 3))
        index = torch.tensor(len(self.colours) - 1, dtype=torch.uint8)
        self.layer[:, rows] = torch.maximum(self.layer[:, rows], mask * index)

    def compose(self, background: torch.Tensor) -> torch.Tensor:
        """The (n, 3, S, S) image: layer colours where painted, ``background`` (n, 3, S, 1) elsewhere."""
        palette = torch.stack(self.colours, dim=2).clamp(0, 1)  # (n, 3, L)
        index = self.layer.reshape(self.n, 1, -1).long().expand(self.n, 3, -1)
        painted = torch.gather(palette, 2, index).reshape(self.n, 3, *self.layer.shape[1:])
        return painted + (self.layer == 0)[:, None] * background


def _row_band(params: dict[str, torch.Tensor], size: int):
    """A function (lo, hi) -> slice of the image rows that face-local heights y in [lo, hi] can reach in any
    face of the batch (local y maps to image y = centre_y + scale * y)."""
    centre, scale = params["centre"][:, 1], params["scale"]

    def band(lo: float, hi: float) -> slice:
        top = float((centre + scale * lo).min())
        bottom = float((centre + scale * hi).max())
        first = max(0, math.floor((top + 1) / 2 * size - 0.5))
        last = min(size, math.ceil((bottom + 1) / 2 * size + 0.5))
        return slice(first, max(first, last))

    return band


def _column(values: torch.Tensor) -> torch.Tensor:
    return values.reshape(-1, 1, 1)


def render_faces(params: dict[str, torch.Tensor], size: int = NATIVE_SIZE) -> torch.Tensor:
    """Render faces from :func:`sample_face_params` output into (n, 3, size, size) float32 in [0, 1]."""
    expect_positive_int("size", size, minimum=16)
    attributes = params["attributes"]
    n = len(attributes)
    if n > RENDER_CHUNK:  # small batches stay in the CPU cache: faster, and bounded memory
        chunks = [{k: v[i : i + RENDER_CHUNK] for k, v in params.items()} for i in range(0, n, RENDER_CHUNK)]
        return torch.cat([render_faces(chunk, size) for chunk in chunks])
    has = {name: attributes[:, i].bool().reshape(-1, 1, 1) for i, name in enumerate(ATTRIBUTE_NAMES)}
    gx, gy = _grid(size)
    scale = _column(params["scale"])
    x = (gx - _column(params["centre"][:, 0])) / scale
    y = (gy - _column(params["centre"][:, 1])) / scale
    x2 = x * x
    width = _column(params["face_width"]) + 0.04 * has["male"]
    height = _column(params["face_height"])
    hair = torch.where(attributes[:, 2:3].bool(), params["dark_hair"], params["light_hair"])

    t = (gy + 1) / 2  # background: vertical gradient between two random colours, (n, 3, S, 1)
    top, bottom = params["background_top"][:, :, None, None], params["background_bottom"][:, :, None, None]
    background = top * (1 - t[None]) + bottom * t[None]
    canvas = _Canvas(n, size)

    # Parts are tested only in the band of rows they can reach (given every face's jitter and proportions).
    low, high = float(height.min()), float(height.max())
    band = _row_band(params, size)
    long_hair = ~has["male"] & (x2 / (width + 0.16) ** 2 + (y - 0.2) ** 2 / (height + 0.3) ** 2 <= 1)
    canvas.paint(long_hair, hair)
    rows = band(0.3, 1.62)  # shoulders and neck
    yb = y[:, rows]
    shoulders = x2 / 0.85**2 + (yb - 1.2) ** 2 / 0.42**2 <= 1
    canvas.paint(shoulders, params["clothes"], rows)
    canvas.paint((x.abs() < 0.17) & (yb > 0.3) & (yb < 0.95) & ~shoulders, params["skin"] * 0.9, rows)
    rows = band(-0.08 - 0.9 * high, 0.05)
    yb = y[:, rows]
    short_hair = x2 / (width + 0.06) ** 2 + (yb + 0.08) ** 2 / (height * 0.9) ** 2 <= 1
    canvas.paint(short_hair & (yb < 0.05), hair, rows)

    face_y = y - 0.05
    face = x2 / width**2 + face_y * face_y / height**2 <= 1
    canvas.paint(face, params["skin"])
    rows = band(0.05 - high, 0.05 - 0.85 * low)
    canvas.paint(face[:, rows] & (face_y[:, rows] < -0.85 * height), hair, rows)  # hairline
    rows = band(0.22, 0.05 + high)
    canvas.paint(has["beard"] & face[:, rows] & (y[:, rows] > 0.22), hair, rows)

    spacing = _column(params["eye_spacing"])
    rows = band(-0.2, 0.09)  # eyes, brows and glasses
    ye = y[:, rows]
    eye_dx = x.abs() - spacing  # both eyes at once, mirrored about x = 0
    eye_y = ye + 0.05
    eye_r2 = eye_dx * eye_dx + eye_y * eye_y
    canvas.paint(eye_r2 <= 0.07**2, torch.tensor([0.95, 0.95, 0.95]), rows)
    canvas.paint(eye_r2 <= 0.04**2, torch.tensor([0.08, 0.08, 0.08]), rows)
    brows = (eye_dx.abs() < 0.11) & ((ye + 0.17).abs() < 0.025)
    canvas.paint(brows, hair * 0.8, rows)
    glasses_rows = rows

    rows = band(0.07, 0.23)
    nose = x2 / 0.05**2 + (y[:, rows] - 0.15) ** 2 / 0.08**2 <= 1
    canvas.paint(nose, params["skin"] * 0.82, rows)

    rows = band(0.32, 0.45)
    ym = y[:, rows]
    upper, lower = 0.33 + 1.0 * x2, 0.44 - 1.2 * x2
    open_smile = has["smiling"] & (x.abs() < 0.24) & (ym > upper) & (ym < lower)
    canvas.paint(open_smile, torch.tensor([0.45, 0.05, 0.08]), rows)
    canvas.paint(open_smile & (ym < upper + 0.035), torch.tensor([0.97, 0.97, 0.97]), rows)  # teeth
    closed = ~has["smiling"] & (x.abs() < 0.14) & ((ym - 0.37).abs() < 0.02)
    canvas.paint(closed, torch.tensor([0.6, 0.2, 0.2]), rows)

    rows = band(0.05 - high, -0.16)
    bangs = has["bangs"] & face[:, rows] & (y[:, rows] < -0.2 + 0.04 * torch.cos(x * 25))
    canvas.paint(bangs, hair, rows)

    rims = (eye_r2.sqrt() - 0.11).abs() < 0.022
    bridge = (x.abs() < 0.1) & ((ye + 0.05).abs() < 0.015)
    temples = ((ye + 0.07).abs() < 0.013) & (x.abs() > spacing + 0.11) & (x.abs() < width + 0.02)
    dark = torch.tensor([0.05, 0.05, 0.05])
    canvas.paint(has["eyeglasses"] & (rims | bridge | temples), dark, glasses_rows)

    brim_y = 0.05 - 0.55 * height
    rows = band(0.05 - 0.55 * high - 0.35, 0.05 - 0.55 * low + 0.05)
    yh = y[:, rows]
    crown = (x.abs() < width + 0.04) & (yh < brim_y) & (yh > brim_y - 0.35 + 0.6 * x2)
    brim = (x.abs() < width + 0.22) & ((yh - brim_y).abs() < 0.05)
    canvas.paint(has["hat"] & (crown | brim), params["hat_colour"], rows)
    return canvas.compose(background)


# list_eval_partition.txt: 0 train, 1 validation, 2 test. ``seed`` picks the partition (seed % 3: 0 train,
# 1 test, 2 validation) so that the lectures' training faces (seed 0) and held-out faces (seed 1, 2) are
# different people's pictures, and the block of n images inside it (the quotient of seed by 3).
CELEBA_PARTITIONS = {0: "train", 1: "validation", 2: "test"}
CELEBA_SEED_PARTITIONS = (0, 2, 1)
CELEBA_ATTRIBUTES = 40


def _celeba_lines(path: Path) -> list[str]:
    if not path.is_file():
        raise ValueError(f"{path}: expected the CelebA file here, found nothing")
    return path.read_text(encoding="ascii", errors="replace").splitlines()


def celeba_attribute_table(folder: Path) -> tuple[list[str], list[str], np.ndarray]:
    """``list_attr_celeba.txt`` as published: (attribute names, image file names, int8 values (N, 40) in
    {-1, 1}). Line 1 is the image count, line 2 the 40 attribute names, then ``000001.jpg -1  1 ...`` rows;
    anything else raises a ValueError naming the line, what was expected and what came."""
    path = folder / "list_attr_celeba.txt"
    lines = _celeba_lines(path)
    if not lines or not lines[0].strip().isdigit():
        got = lines[0][:60] if lines else "an empty file"
        raise ValueError(f"{path}: expected the image count on line 1, got {got!r}")
    count = int(lines[0])
    columns = lines[1].split() if len(lines) > 1 else []
    needed = [col for col, _ in CELEBA_COLUMNS.values()]
    if not set(needed) <= set(columns):
        raise ValueError(
            f"{path}: expected the attribute names (CelebA's {CELEBA_ATTRIBUTES}, including "
            f"{', '.join(needed)}) on line 2, got {len(columns)} names: {' '.join(columns)[:200]!r}"
        )
    rows = [line.split() for line in lines[2:] if line.strip()]
    if len(rows) != count:
        raise ValueError(f"{path}: expected {count:,} image rows (line 1), got {len(rows):,}")
    bad = [i for i, row in enumerate(rows) if len(row) != len(columns) + 1]
    if not bad:
        table = np.array([row[1:] for row in rows])
        bad = np.flatnonzero(~((table == "1") | (table == "-1")).all(axis=1)).tolist()
    if bad:
        raise ValueError(
            f"{path} line {bad[0] + 3}: expected {len(columns)} values -1 or 1 after the file name, "
            f"got {' '.join(rows[bad[0]])[:200]!r}"
        )
    names = [row[0] for row in rows]
    values = np.where(table == "1", 1, -1).astype(np.int8).reshape(len(rows), len(columns))
    return columns, names, values


def celeba_partitions(folder: Path) -> dict[str, int]:
    """``list_eval_partition.txt``: {image file name: 0 train | 1 validation | 2 test}."""
    path = folder / "list_eval_partition.txt"
    partitions = {}
    for number, line in enumerate(_celeba_lines(path), start=1):
        fields = line.split()
        if not fields:
            continue
        if len(fields) != 2 or fields[1] not in ("0", "1", "2"):
            raise ValueError(f"{path} line {number}: expected '<image> 0|1|2', got {line.strip()[:100]!r}")
        partitions[fields[0]] = int(fields[1])
    return partitions


def celeba_selection(folder: Path, names: list[str], n: int, seed: int) -> tuple[list[str], list[int], str]:
    """The CelebA images that ``faces(n, seed=seed)`` uses, given the image ``names`` of list_attr_celeba.txt:
    (file names, their rows, a description). Partition ``CELEBA_SEED_PARTITIONS[seed % 3]``, images
    ``n`` times the quotient of seed by 3 onwards."""
    partitions = celeba_partitions(folder)
    partition = CELEBA_SEED_PARTITIONS[seed % 3]
    rows = [i for i, name in enumerate(names) if partitions.get(name) == partition]
    start = (seed // 3) * n
    label = CELEBA_PARTITIONS[partition]
    if start + n > len(rows):
        raise ValueError(
            f"CelebA: the {label} partition holds {len(rows):,} images; seed {seed} with n={n:,} asks for "
            f"its images {start + 1:,}-{start + n:,} (seed % 3 picks the partition, "
            "the quotient of seed by 3 the block of n)"
        )
    rows = rows[start : start + n]
    return [names[i] for i in rows], rows, f"{label} partition, images {start + 1:,}-{start + n:,}"


def celeba_images(folder: Path, names: list[str], size: int) -> torch.Tensor:
    """The named aligned CelebA pictures from the zip, centre-cropped to 178x178 and resized to ``size``."""
    from PIL import Image

    path = folder / "img_align_celeba.zip"
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as error:
        raise ValueError(
            f"{path}: expected a zip archive of img_align_celeba/*.jpg, got a file that is not a complete "
            f"zip ({error})"
        ) from None
    resized, chunk = [], []  # at most CELEBA_CHUNK pictures at 178x178 at once (20,000 would take 7.6 GB)
    with archive:
        members = set(archive.namelist())
        for name in names:
            member = f"img_align_celeba/{name}"
            if member not in members:
                found = sorted(m for m in members if not m.endswith("/"))[:3]
                raise ValueError(
                    f"{path}: expected member {member}, got members {', '.join(found) or 'none'}"
                )
            picture = Image.open(io.BytesIO(archive.read(member))).convert("RGB")
            left, top = (picture.width - 178) // 2, (picture.height - 178) // 2
            picture = picture.crop((left, top, left + 178, top + 178))
            chunk.append(torch.from_numpy(np.asarray(picture, dtype=np.float32) / 255.0).permute(2, 0, 1))
            if len(chunk) == CELEBA_CHUNK:
                resized.append(resize_images(torch.stack(chunk), size))
                chunk = []
    if chunk:
        resized.append(resize_images(torch.stack(chunk), size))
    return torch.cat(resized)


def _celeba(
    folder: Path, n: int, size: int, seed: int, columns: dict[str, tuple[str, bool]]
) -> tuple[torch.Tensor, torch.Tensor, str]:
    """``n`` aligned CelebA faces of the partition ``seed`` picks (see :func:`celeba_selection`),
    centre-cropped to 178x178 and resized, with one attribute per entry of ``columns`` (name: (CelebA
    column, negated)), and a description of the selection."""
    header, all_names, values = celeba_attribute_table(folder)
    missing = [col for col, _ in columns.values() if col not in header]
    if missing:
        raise ValueError(f"{folder / 'list_attr_celeba.txt'}: expected the columns {missing}, got {header}")
    names, rows, what = celeba_selection(folder, all_names, n, seed)
    chosen = values[rows]
    attributes = np.stack(
        [chosen[:, header.index(col)] * (-1 if negate else 1) > 0 for col, negate in columns.values()],
        axis=1,
    )
    images = celeba_images(folder, names, size)
    return images, torch.from_numpy(attributes.astype(np.float32)), what


def reads_celeba(source: str) -> bool:
    """Whether :func:`faces` with ``source`` reads CelebA: its files are in the cache and verified (a manual
    download, so nothing else can bring them; no network). Callers that pick seeds per partition ask this."""
    return source != "offline" and registry.cached("celeba")


def faces(n: int = 10_000, size: int = 64, seed: int = 0, source: str = "auto") -> Faces:
    """``n`` faces (N, 3, size, size) in [0, 1] with 7 binary attributes (see the module docstring).

    CelebA (Liu et al. 2015) is used only when its files are already in ``<cache>/celeba/`` (it is a manual
    download from Google Drive); otherwise the seeded procedural faces, with a one-line notice saying why.
    With CelebA, ``seed`` picks the official partition (list_eval_partition.txt; seed % 3: 0 train, 1 test,
    2 validation) and the block of ``n`` images in it (the quotient of seed by 3), so seeds 0, 1 and 2 never
    share a face, as with the procedural faces, which are a pure function of (n, size, seed).
    """
    expect_positive_int("n", n)
    expect_positive_int("size", size, minimum=16)
    folder = resolve("celeba", source, dataset="faces")
    if folder is not None:
        images, attributes, selection = _celeba(folder, n, size, seed, CELEBA_COLUMNS)
        what = f"CelebA aligned faces ({selection}, centre-cropped, {size}x{size}, from {folder})"
    else:
        params = sample_face_params(n, seed)
        images, attributes = render_faces(params, size), params["attributes"]
        what = (
            f"procedural faces (offline stand-in for CelebA; {n:,} images {size}x{size}, seed {seed}, "
            f"attributes {', '.join(ATTRIBUTE_NAMES)})"
        )
    announce("faces", what)
    return Faces(images, attributes, what)


def icgan_faces(n: int = 10_000, size: int = 64, seed: int = 0, source: str = "auto") -> Faces:
    """Faces for the IcGAN (Perarnau et al. 2016): CelebA with the reference's 18 attributes
    (:data:`CELEBA_18`) when its files are in the cache, the same images ``faces(n, seed=seed)`` picks
    (``seed`` chooses the official partition, so seed + 1 is held out); else :func:`faces` offline
    (procedural, 7 attributes)."""
    expect_positive_int("n", n)
    expect_positive_int("size", size, minimum=16)
    folder = resolve("celeba", source, dataset="faces (18 IcGAN attributes)")
    if folder is None:
        return faces(n=n, size=size, seed=seed, source="offline")
    images, attributes, selection = _celeba(folder, n, size, seed, ICGAN_COLUMNS)
    what = f"CelebA aligned faces ({selection}, {size}x{size}, 18 IcGAN attributes, from {folder})"
    announce("faces", what)
    return Faces(images, attributes, what, attribute_names=tuple(ICGAN_COLUMNS))


def lfw_faces(size: int = 64, channels: int = 3) -> Faces:
    """The real faces of scikit-image's ``lfw_subset`` (Labeled Faces in the Wild, Huang et al. 2007).

    ``lfw_subset()`` holds 200 grayscale 25x25 crops: the first 100 are faces, the other 100 are background
    crops (non-faces), so only the 100 faces are returned, resized (antialiased bilinear) to ``size``.
    ``channels=3`` repeats the gray channel so they fit colour models; ``channels=1`` keeps it. The subset has
    no attribute labels: ``.attributes`` is (100, 0) and ``.attribute_names`` is empty.
    """
    from skimage.data import lfw_subset

    expect_positive_int("size", size, minimum=4)
    if channels not in (1, 3):
        raise ValueError(f"channels: expected 1 or 3, got {channels!r}")
    gray = torch.from_numpy(lfw_subset()[:LFW_FACES].astype(np.float32)).unsqueeze(1).clamp(0, 1)
    images = resize_images(gray, size).repeat(1, channels, 1, 1).contiguous()
    what = (
        f"scikit-image lfw_subset ({LFW_FACES} real 25x25 grayscale LFW faces, resized to {size}x{size}, "
        f"{channels} channel{'s' if channels > 1 else ''})"
    )
    announce("lfw_faces", what)
    return Faces(images, torch.zeros(len(images), 0), what, attribute_names=())
