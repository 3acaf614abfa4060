"""Exact windowed association search: depth-first branch and bound over permutations.

Why it is exact: a node's partial cost (summed squared Mahalanobis distances of the
association steps so far) can only grow as steps are added, so a branch whose partial
cost already exceeds the best complete hypothesis can never contain the optimum.  Children
are visited cheapest first, which makes the first descent a greedy hypothesis (a good
incumbent) and lets the loop stop at the first child that is too expensive.  Exact ties
are broken towards the lexicographically smallest sequence of permutation indices, as the
exhaustive search does.

Why it is fast: the covariances are shared (see :mod:`napari_mpt.kalman`), so a node holds
only the ``(n, s)`` means; and nodes are cached across windows: after the first step is
committed, the subtree below it is still valid (same committed root, same frames), so the
next window re-walks it for free and only expands new nodes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from itertools import permutations

import numpy as np

from ..flops import FlopCounter, matmul
from ..kalman import Schedule

Path = tuple[int, ...]


def all_permutations(n: int) -> np.ndarray:
    """``(n!, n)`` array; row k maps track a to detection ``row[a]``; row 0 is identity."""
    return np.array(list(permutations(range(n))), dtype=np.int64).reshape(math.factorial(n), n)


@dataclass
class Node:
    """A hypothesis prefix: the tracks' states after its last step, and once expanded the
    cost of every child permutation, cheapest first."""

    X: np.ndarray
    costs: np.ndarray | None = None
    order: list[int] | None = None
    Xpred: np.ndarray | None = None
    Y: np.ndarray | None = None


@dataclass
class ExactSearch:
    """Branch-and-bound search for one cluster of ``n`` tracks, with a cross-window cache."""

    schedule: Schedule
    perms: np.ndarray
    counter: FlopCounter
    cache: dict[Path, Node] = field(default_factory=dict)
    frames: list[tuple[int, bytes]] = field(default_factory=list)  # cache validity key
    nodes_expanded: int = 0

    def reset(self, X: np.ndarray) -> None:
        self.cache = {(): Node(X.copy())}

    def _expand(self, node: Node, t: int, Z: np.ndarray) -> None:
        """Cost of every permutation at frame ``t`` from ``node``'s states (shared S^-1)."""
        m = self.schedule.model
        n, d = Z.shape
        Sinv = self.schedule.Sinv[t]
        Xpred = m.predict_mean(node.X)
        Y = Z[None, :, :] - Xpred[:, None, :d]          # (track, detection, d)
        U = Y @ Sinv
        C = (Y * U).sum(-1)                              # squared Mahalanobis, (n, n)
        costs = C[np.arange(n)[None, :], self.perms].sum(1)
        self.counter.add(n * m.predict_mean_flops() + n * n * d + n * n * matmul(1, d, d)
                         + n * n * (2 * d - 1) + len(self.perms) * (n - 1))
        node.Xpred, node.Y, node.costs = Xpred, Y, costs
        node.order = np.argsort(costs, kind="stable").tolist()
        self.nodes_expanded += 1

    def _child(self, node: Node, k: int, t: int) -> np.ndarray:
        """States after taking permutation ``k`` at frame ``t`` (shared gain K_t)."""
        assert node.Y is not None and node.Xpred is not None
        n, _, d = node.Y.shape
        s = node.Xpred.shape[1]
        Ysel = node.Y[np.arange(n), self.perms[k]]
        self.counter.add(matmul(n, d, s) + n * s)
        return node.Xpred + Ysel @ self.schedule.K[t].T

    def solve(self, t0: int, Z: list[np.ndarray]) -> tuple[Path, float]:
        """Best permutation sequence for frames ``t0+1 .. t0+len(Z)`` from the root states."""
        L = len(Z)
        best_cost = math.inf
        best_path: Path = ()
        cache = self.cache
        add = self.counter.add

        def dfs(path: Path, node: Node, partial: float) -> None:
            nonlocal best_cost, best_path
            depth = len(path)
            t = t0 + depth + 1
            if node.costs is None:
                self._expand(node, t, Z[depth])
            assert node.costs is not None and node.order is not None
            costs = node.costs
            for k in node.order:
                c = partial + float(costs[k])
                add(1)
                if c > best_cost:
                    break
                child = (*path, k)
                if depth + 1 == L:
                    if c < best_cost or child < best_path:
                        best_cost, best_path = c, child
                    continue
                nxt = cache.get(child)
                if nxt is None:
                    nxt = Node(self._child(node, k, t))
                    cache[child] = nxt
                dfs(child, nxt, c)

        dfs((), cache[()], 0.0)
        return best_path, best_cost

    def state(self, path: Path, t0: int) -> np.ndarray:
        """States after ``path`` (computing a leaf's from its parent when not cached)."""
        node = self.cache.get(path)
        if node is not None:
            return node.X
        parent = self.cache[path[:-1]]
        X = self._child(parent, path[-1], t0 + len(path))
        self.cache[path] = Node(X)
        return X

    def commit(self, k: int) -> None:
        """Make child ``k`` the new root, keeping its cached subtree."""
        self.cache = {p[1:]: v for p, v in self.cache.items() if p and p[0] == k}
