"""Layers both transformers build from."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Generic, TypeVar, cast

from torch import nn

M = TypeVar("M", bound=nn.Module)


class Stack(nn.ModuleList, Generic[M]):
    """A ModuleList of layers of one type, so that a type checker knows what a layer
    holds (a plain ModuleList yields ``Module``, whose attributes type as ``Tensor |
    Module``).  The weights' names are those of a ModuleList."""

    def __init__(self, layers: Iterable[M]):
        super().__init__(layers)

    def __iter__(self) -> Iterator[M]:
        return cast(Iterator[M], super().__iter__())
