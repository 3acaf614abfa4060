"""The examples in the docstrings run: every module of the package (the napari layer
aside: it needs a viewer) whose docstrings hold an example is run through doctest."""

from __future__ import annotations

import doctest
import importlib
from pathlib import Path

import pytest

import napari_mpt

PACKAGE = Path(napari_mpt.__file__).resolve().parent
WITH_EXAMPLES = sorted(
    ".".join(("napari_mpt", *p.relative_to(PACKAGE).with_suffix("").parts))
    for p in PACKAGE.rglob("*.py")
    if ">>> " in p.read_text(encoding="utf-8") and "napari" not in p.relative_to(PACKAGE).parts)


def test_there_are_examples_to_run():
    assert len(WITH_EXAMPLES) >= 3, WITH_EXAMPLES


@pytest.mark.parametrize("name", WITH_EXAMPLES)
def test_the_examples_run(name):
    module = importlib.import_module(name.removesuffix(".__init__"))
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0
    assert result.failed == 0
