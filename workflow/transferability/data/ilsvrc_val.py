"""ILSVRC-2012's validation images sorted into class folders (`val/<wnid>/*.JPEG`), the
ImageFolder layout the workflow reads, from the devkit (ILSVRC2012_devkit_t12):

    data/ILSVRC2012_validation_ground_truth.txt   one ILSVRC2012_ID (1..1000) per line, for
                                                  ILSVRC2012_val_00000001.JPEG, ...02, ...
    data/meta.mat                                 the synsets: ILSVRC2012_ID -> WNID

The devkit's IDs are not the sorted-wnid class indices the workflow uses, hence meta.mat.
It is a MATLAB v5 file; a small reader of that format is here, so neither scipy nor the
internet is needed (`python -m workflow.transferability prepare-ilsvrc-val` from the
repository root, docs/full-scale.md).
"""

from __future__ import annotations

import os
import re
import shutil
import struct
import zlib
from pathlib import Path

from ..errors import DataError

GROUND_TRUTH = "data/ILSVRC2012_validation_ground_truth.txt"
META = "data/meta.mat"
VAL_NAME = "ILSVRC2012_val_{:08d}.JPEG"
VAL_PATTERN = re.compile(r"ILSVRC2012_val_\d{8}\.JPEG")

# MATLAB v5 data types and array classes (MAT-File Format, MathWorks, 2013 edition).
_NUMERIC = {1: "b", 2: "B", 3: "h", 4: "H", 5: "i", 6: "I", 7: "f", 9: "d", 12: "q", 13: "Q"}
_MATRIX, _COMPRESSED, _UTF8 = 14, 15, 16
_CELL, _STRUCT, _CHAR = 1, 2, 4


def _elements(data: bytes):
    """(type, payload) of each data element in `data` (little-endian), compressed ones
    decompressed."""
    pos = 0
    while pos + 8 <= len(data):
        kind, size = struct.unpack_from("<II", data, pos)
        if kind >> 16:  # small element: size and type in one word, data in the next
            kind, size = kind & 0xFFFF, kind >> 16
            yield kind, data[pos + 4 : pos + 4 + size]
            pos += 8
            continue
        payload = data[pos + 8 : pos + 8 + size]
        pos += 8 + size
        if kind == _COMPRESSED:
            yield from _elements(zlib.decompress(payload))
        else:
            pos += -size % 8  # padded to 8 bytes
            yield kind, payload


def _numbers(kind: int, payload: bytes) -> list:
    code = _NUMERIC[kind]
    return list(struct.unpack(f"<{len(payload) // struct.calcsize(code)}{code}", payload))


def _matrix(payload: bytes):
    """A miMATRIX as Python values: a struct array as a list of dicts, a char array as a
    str, a cell array as a list, a numeric array as a flat list."""
    parts = list(_elements(payload))
    flags, dims = _numbers(*parts[0]), _numbers(*parts[1])
    klass, count, rest = flags[0] & 0xFF, 1, parts[3:]  # parts[2]: the array's name
    for d in dims:
        count *= d
    if klass == _STRUCT:
        width = _numbers(*rest[0])[0]
        raw = rest[1][1]
        names = [raw[i : i + width].split(b"\0")[0].decode() for i in range(0, len(raw), width)]
        values = [_matrix(p) for k, p in rest[2:] if k == _MATRIX]
        return [
            dict(zip(names, values[i * len(names) : (i + 1) * len(names)], strict=True))
            for i in range(count)
        ]
    if klass == _CELL:
        return [_matrix(p) for k, p in rest if k == _MATRIX]
    if not rest:
        return [] if klass != _CHAR else ""
    kind, data = rest[0]
    if klass == _CHAR:
        if kind == _UTF8 or kind in (1, 2):
            return data.decode("utf-8")
        return "".join(map(chr, _numbers(kind, data)))
    return _numbers(kind, data)


def read_mat(path) -> dict:
    """The variables of a MATLAB v5 .mat file (the subset of the format meta.mat uses)."""
    data = Path(path).read_bytes()
    if len(data) < 128 or data[126:128] != b"IM":
        raise DataError(f"{path}: not a little-endian MATLAB v5 file; use the devkit's meta.mat")
    out = {}
    for kind, payload in _elements(data[128:]):
        if kind == _MATRIX:
            parts = list(_elements(payload))
            out[parts[2][1].decode()] = _matrix(payload)
    return out


def id_to_wnid(meta_path) -> dict[int, str]:
    """ILSVRC2012_ID -> WNID of every synset in meta.mat."""
    try:
        synsets = read_mat(meta_path)["synsets"]
        return {int(s["ILSVRC2012_ID"][0]): s["WNID"] for s in synsets}
    except (KeyError, IndexError, TypeError, struct.error, zlib.error) as e:
        raise DataError(
            f"{meta_path}: no synsets with ILSVRC2012_ID and WNID ({type(e).__name__}: {e}); "
            "use the meta.mat of ILSVRC2012_devkit_t12"
        ) from e


def _check_one_label_per_image(truth_path: Path, images: list[Path], val_dir: Path) -> None:
    """Every image the ground truth labels is there, and every image there is labelled: a
    short ground-truth file would otherwise leave the images past its end unsorted, and
    the val/ folder short, without a word."""
    if not val_dir.is_dir():
        raise DataError(
            f"{val_dir}: not a folder; --val-dir must hold the unpacked ILSVRC2012_img_val.tar"
        )
    present = sum(1 for p in val_dir.iterdir() if VAL_PATTERN.fullmatch(p.name))
    counts = f"{truth_path} has {len(images)} labels, {val_dir} has {present} images"
    absent = [p for p in images if not p.is_file()]
    if absent:
        raise DataError(
            f"{absent[0]}: missing ({len(absent)} of the {len(images)} images labelled; "
            f"{counts}); --val-dir must hold the unpacked ILSVRC2012_img_val.tar"
        )
    if present != len(images):
        raise DataError(
            f"{counts}, and each image needs one label; use the ground truth of "
            "ILSVRC2012_devkit_t12 (one ILSVRC2012_ID per image of ILSVRC2012_img_val.tar, 50,000)"
        )


def sort_val(devkit, val_dir, out, copy: bool = False) -> dict[str, int]:
    """Link (or copy) each validation image of `val_dir` into `out/<wnid>/`; `out` appears
    complete or not at all. Returns the number of images per wnid."""
    devkit, val_dir, out = Path(devkit), Path(val_dir), Path(out)
    truth_path = devkit / GROUND_TRUTH
    if not truth_path.is_file():
        raise DataError(
            f"{truth_path}: missing; --devkit must be the unpacked ILSVRC2012_devkit_t12"
        )
    wnids = id_to_wnid(devkit / META)
    truth = [int(line) for line in truth_path.read_text().split()]
    missing = [i for i in truth if i not in wnids]
    if missing:
        raise DataError(f"{truth_path}: IDs {sorted(set(missing))[:3]} are not in {META}")
    images = [val_dir / VAL_NAME.format(i) for i in range(1, len(truth) + 1)]
    _check_one_label_per_image(truth_path, images, val_dir)
    if out.exists():
        raise DataError(f"{out}: exists already; remove it or choose another --out")
    tmp = out.with_name(out.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    counts: dict[str, int] = {}
    for image, label in zip(images, truth, strict=True):
        folder = tmp / wnids[label]
        folder.mkdir(parents=True, exist_ok=True)
        if copy:
            shutil.copy2(image, folder / image.name)
        else:
            os.symlink(image.resolve(), folder / image.name)
        counts[wnids[label]] = counts.get(wnids[label], 0) + 1
    tmp.rename(out)
    return counts
