"""Figures 2 and 3 are written as valid image files whatever parts of the grid exist."""

from __future__ import annotations

from pathlib import Path

import pytest

from transferability.analysis.figure2 import figure2
from transferability.analysis.figure3 import figure3

from .synthetic import make_table

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
FIGURES = {"figure2": figure2, "figure3": figure3}


def is_png(path: Path) -> bool:
    return path.is_file() and path.read_bytes()[:8] == PNG_MAGIC


@pytest.fixture(params=sorted(FIGURES))
def figure(request):
    return FIGURES[request.param]


def test_full_grid_gives_a_png(figure, tmp_path):
    assert is_png(figure(make_table(), tmp_path / "fig.png"))


def test_subset_of_n_gives_a_png(figure, tmp_path):
    assert is_png(figure(make_table(ns=[1, 4, 7]), tmp_path / "fig.png"))


def test_no_dissimilar_split_gives_a_png(figure, tmp_path):
    assert is_png(figure(make_table(splits=["random0"]), tmp_path / "fig.png"))


def test_empty_table_gives_a_png(figure, tmp_path):
    assert is_png(figure(make_table().iloc[0:0], tmp_path / "fig.png"))


def test_diverged_nets_still_give_a_png(figure, tmp_path):
    df = make_table(ns=[1, 7])
    df.loc[df.index[-3:], ["diverged", "top1"]] = [True, 0.2]
    assert is_png(figure(df, tmp_path / "fig.png"))


def test_parent_directories_are_created(tmp_path):
    assert is_png(figure2(make_table(ns=[1]), tmp_path / "a" / "b" / "fig.png"))


def test_pdf_suffix_writes_a_pdf(tmp_path):
    path = figure3(make_table(ns=[1]), tmp_path / "fig.pdf")
    assert path.read_bytes()[:5] == b"%PDF-"


def test_no_temporary_file_is_left_behind(tmp_path):
    figure2(make_table(ns=[1]), tmp_path / "fig.png")
    assert [p.name for p in tmp_path.iterdir()] == ["fig.png"]
