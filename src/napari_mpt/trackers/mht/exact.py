"""Exact windowed association search: depth-first branch and bound over permutations.

Why it is exact: a node's partial cost (summed squared Mahalanobis distances of the
association steps so far) plus a lower bound on the steps still to come can never
underestimate its best completion, so a branch whose bound exceeds the best complete
hypothesis can never contain the optimum.

The lower bound: all tracks share the gain, and together they take all of a frame's
detections, so the *sum* of their states evolves as one Kalman filter fed with the sum of
the detections — the same for every hypothesis.  The innovations ``e_a`` of a step thus
add up to a fixed ``E``, and ``sum_a |e_a|^2 >= |E|^2 / n`` (convexity; norms in
``S^-1``).  That unavoidable part of every future step bounds the rest of the window, so
branches are compared on the part of the cost an association can change.  Children
are visited cheapest first, which makes the first descent a greedy hypothesis (a good
incumbent) and lets the loop stop at the first child that is too expensive.  Exact ties
are broken towards the lexicographically smallest sequence of permutation indices, as the
exhaustive search does.

Why it is fast: the covariances are shared (see :mod:`napari_mpt.trackers.mht.kalman`), so a node holds
only the ``(n, s)`` means; and nodes are cached across windows: after the first step is
committed, the subtree below it is still valid (same committed root, same frames), so the
next window re-walks it for free and only expands new nodes.

Memory: an expanded node holds the cost and rank of every permutation (16 bytes each: 645
kB for a cluster of 8, whose 8! = 40,320 permutations follow every node).  The cache is
kept within ``max_nodes`` (the MHT's memory budget over :func:`cache_node_bytes`): once it is
full and a complete hypothesis has been found, the search stops with the best one found
and says so (``exact`` False), instead of running out of memory.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from itertools import permutations

import numpy as np

from ...core.flops import FlopCounter, matmul
from .kalman import Schedule

Path = tuple[int, ...]
SMALL = 24  # up to 4! permutations per node, costs are kept as a list and sorted in Python


def all_permutations(n: int) -> np.ndarray:
    """``(n!, n)`` array; row k maps track a to detection ``row[a]``; row 0 is identity."""
    return np.array(list(permutations(range(n))), dtype=np.int64).reshape(math.factorial(n), n)


@dataclass
class Node:
    """A hypothesis prefix: the tracks' states after its last step, and once expanded the
    cost of every child permutation, cheapest first."""

    X: np.ndarray
    costs: np.ndarray | list[float] | None = None
    Xpred: np.ndarray | None = None
    Y: np.ndarray | None = None
    order: list[int] | np.ndarray | None = None


def cache_node_bytes(n: int, s: int) -> int:
    """Bytes an expanded node of a cluster of ``n`` tracks holds (state size ``s``):
    costs and ranks of the n! permutations, means, predictions and innovations."""
    return 16 * math.factorial(n) + 8 * n * (2 * s + 2 * n) + 300


@dataclass
class ExactSearch:
    """Branch-and-bound search for one cluster of ``n`` tracks, with a cross-window cache
    of at most ``max_nodes`` nodes."""

    schedule: Schedule
    perms: np.ndarray
    counter: FlopCounter
    max_nodes: int = 1 << 62
    cache: dict[Path, Node] = field(default_factory=dict)
    nodes_expanded: int = 0
    exact: bool = True  # the last solve proved its optimum (did not stop at the budget)
    # centroid filter of the bound: its state after frame t and the bound of step t
    _sum_state: dict[int, np.ndarray] = field(default_factory=dict)
    _step_bound: dict[int, float] = field(default_factory=dict)
    _arange: np.ndarray | None = None

    def _tracks_of(self, n: int) -> np.ndarray:
        """``[[0, 1, .., n-1]]``, made once per search (index of the tracks in a node)."""
        a = self._arange
        if a is None or a.shape[1] != n:
            a = self._arange = np.arange(n)[None, :]
        return a

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
        C = np.add.reduce(Y * U, axis=-1)                # squared Mahalanobis, (n, n)
        costs = np.add.reduce(C[self._tracks_of(n), self.perms], axis=1)
        self.counter.add(n * m.predict_mean_flops() + n * n * d + n * n * matmul(1, d, d)
                         + n * n * (2 * d - 1) + len(self.perms) * (n - 1))
        node.Xpred, node.Y = Xpred, Y
        if len(costs) <= SMALL:  # Python's sort is stable too: the same order, less overhead
            node.costs = cl = costs.tolist()
            node.order = sorted(range(len(cl)), key=cl.__getitem__)
        else:  # an array: a list of 40,320 Python ints would take 1.4 MB a node
            node.costs = costs
            node.order = np.argsort(costs, kind="stable")
        self.nodes_expanded += 1

    def _child(self, node: Node, k: int, t: int) -> np.ndarray:
        """States after taking permutation ``k`` at frame ``t`` (shared gain K_t)."""
        assert node.Y is not None and node.Xpred is not None
        n, _, d = node.Y.shape
        s = node.Xpred.shape[1]
        Ysel = node.Y[self._tracks_of(n)[0], self.perms[k]]
        self.counter.add(matmul(n, d, s) + n * s)
        return node.Xpred + Ysel @ self.schedule.K[t].T

    def future_bounds(self, t0: int, Z: list[np.ndarray]) -> list[float]:
        """``bound[j]``: a lower bound on the cost of steps ``j+1 .. L`` of any hypothesis
        (the centroid argument of the module docstring), slightly loosened so rounding
        can never prune the optimum."""
        m = self.schedule.model
        n, d = Z[0].shape
        s = m.state_dim
        add = self.counter.add
        xs = self._sum_state.get(t0)
        if xs is None:
            xs = self.cache[()].X.sum(0)
            add((n - 1) * s)
        known = self._step_bound
        L = len(Z)
        step = [known.get(t) for t in range(t0 + 1, t0 + L + 1)]
        if None in step:  # steps from the first new frame on (the others: earlier windows)
            first = step.index(None)
            if first:
                xs = self._sum_state[t0 + first]
            Sinv, K = self.schedule.Sinv, self.schedule.K
            for j in range(first, L):
                t = t0 + j + 1
                xp = m.predict_mean(xs)
                e = np.add.reduce(Z[j], axis=0) - xp[:d]
                u = e @ Sinv[t]
                step[j] = b = float(e @ u) / n
                xs = xp + K[t] @ e
                known[t], self._sum_state[t] = b, xs
            add((L - first) * (m.predict_mean_flops() + (n - 1) * d + d + matmul(1, d, d)
                               + (2 * d - 1) + 1 + matmul(s, d, 1) + s))
        known.pop(t0, None)  # windows slide by one frame: the frame just left is stale
        self._sum_state.pop(t0 - 1, None)
        bound = [0.0] * (L + 1)
        acc = 0.0
        for j in range(L - 1, -1, -1):  # suffix sums of the steps, loosened
            acc += step[j]  # type: ignore[operator]  # no None left
            bound[j] = acc * (1.0 - 1e-9)
        add(L)
        return bound

    def solve(self, t0: int, Z: list[np.ndarray]) -> tuple[Path, float]:
        """Best permutation sequence for frames ``t0+1 .. t0+len(Z)`` from the root states
        (the best found, with :attr:`exact` False, when the cache filled up first)."""
        L = len(Z)
        best_cost = math.inf
        best_path: Path = ()
        cache = self.cache
        add = self.counter.add
        bound = self.future_bounds(t0, Z) if len(Z[0]) > 1 else [0.0] * (L + 1)
        self.exact = True

        visited = 0  # child costs and bounds added up (2 FLOPs each), counted once

        def dfs(path: Path, node: Node, partial: float) -> None:
            nonlocal best_cost, best_path, visited
            depth = len(path)
            t = t0 + depth + 1
            if node.costs is None:
                self._expand(node, t, Z[depth])
            assert node.costs is not None and node.order is not None
            costs = node.costs
            rest = bound[depth + 1]
            for k in node.order:
                if not self.exact:
                    return
                k = int(k)
                c = partial + float(costs[k])
                visited += 1
                if c + rest > best_cost:
                    break
                child = (*path, k)
                if depth + 1 == L:
                    if c < best_cost or child < best_path:
                        best_cost, best_path = c, child
                    continue
                nxt = cache.get(child)
                if nxt is None:
                    if len(cache) >= self.max_nodes and best_path:
                        self.exact = False  # full: keep the best hypothesis found
                        return
                    nxt = Node(self._child(node, k, t))
                    cache[child] = nxt
                dfs(child, nxt, c)

        dfs((), cache[()], 0.0)
        add(2 * visited)
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
