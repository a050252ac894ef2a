"""The paper's three synthetic data sets D-I, D-II and D-III (Naitzat, Zhitnikov and Lim,
"Topology of Deep Neural Networks", JMLR 2020).

Every generator keeps the paper's generator order (unit by unit, part by part), so the homology
subsample "every stride-th point of a class" is the paper's regular thinning. Points are float32,
labels int32 (0 = class a, 1 = class b). Randomness comes only from
`numpy.random.default_rng(seed)`.
"""

from __future__ import annotations

import math

import numpy as np

from topnn_jax.datasets.base import Dataset, TopologyPreset
from topnn_jax.errors import InputError
from topnn_jax.topology.parameters import check_memory

# Peak bytes a generator needs per unit of `size` (measured at size 2,000,000: D-I 494, its grid's
# distances to the nine centres; D-II and D-III 104, training and test points in float64).
BYTES_PER_SIZE = {"D-I": 512, "D-II": 128, "D-III": 128}


def _check_size(name: str, size: int | None, paper: int) -> None:
    """Refuse, before generating it, a size whose points would exceed the memory limit."""
    if size is not None:
        check_memory(
            f"{name} size {size}",
            size * BYTES_PER_SIZE[name],
            f"use a smaller size (the paper's is {paper:,})",
        )


# ---------------------------------------------------------------------------------------------
# D-I: nine disks in a square (2-D)
# ---------------------------------------------------------------------------------------------

D1_SIZE = 10_050  # points kept from the paper's 106 x 106 grid
D1_TRAIN_FRACTION = 7_800 / D1_SIZE
D1_GRID_STEP = 0.19
D1_MAX_GRID_STEP = 0.5  # coarser grids cannot resolve a disk of radius 1.3
D1_DISK_RADIUS = 1.3
D1_MARGIN_RADIUS = 1.8
D1_CENTRES = np.array(
    [(7 * math.cos(2 * math.pi * j / 8), 7 * math.sin(2 * math.pi * j / 8)) for j in range(8)]
    + [(0.0, 0.0)]
)


def _d1_points(grid_step: float = D1_GRID_STEP) -> tuple[np.ndarray, np.ndarray]:
    """All kept D-I points in generator order (x outer, y inner), before the train/test split.

    Args:
        grid_step: spacing of the grid `arange(-10, 10, grid_step)` on each axis (paper: 0.19).

    Returns:
        points float32[n, 2] (coordinates divided by 10), labels int32[n]; n = 10,050 at 0.19.
    """
    axis = np.arange(-10.0, 10.0, grid_step)
    grid = np.stack(np.meshgrid(axis, axis, indexing="ij"), axis=-1).reshape(-1, 2)
    nearest = np.min(np.linalg.norm(grid[:, None, :] - D1_CENTRES[None], axis=-1), axis=1)
    keep = (nearest < D1_DISK_RADIUS) | (nearest >= D1_MARGIN_RADIUS)
    labels = np.where(nearest < D1_DISK_RADIUS, 0, 1).astype(np.int32)
    return (grid[keep] / 10.0).astype(np.float32), labels[keep]


def make_d1(seed: int = 0, size: int | None = None) -> Dataset:
    """D-I: label 0 = nine disks (Betti (9, 0)), label 1 = the square around them (Betti (1, 9)).

    Args:
        seed: chooses which 7,800 of the 10,050 points train (kept in generator order).
        size: approximate number of points before the split (default 10,050, the paper's grid);
            smaller values use a coarser grid of the same square.
    """
    _check_size("D-I", size, D1_SIZE)
    grid_step = D1_GRID_STEP
    if size is not None:
        grid_step = D1_GRID_STEP * math.sqrt(D1_SIZE / size)
        if grid_step > D1_MAX_GRID_STEP:
            raise InputError(
                f"D-I size {size} is too small to resolve nine disks; use size >= "
                f"{math.ceil(D1_SIZE * (D1_GRID_STEP / D1_MAX_GRID_STEP) ** 2)}"
            )
    points, labels = _d1_points(grid_step)
    rng = np.random.default_rng(seed)
    n_train = round(len(points) * D1_TRAIN_FRACTION)
    train = np.zeros(len(points), dtype=bool)
    train[rng.choice(len(points), size=n_train, replace=False)] = True
    # The paper's D-I preset thins the training set (about 3/4 of a grid) by 3; on a coarser grid
    # the same k stays right because the grid looks alike at every step; only the stride shrinks
    # so that small versions keep enough points per disk.
    stride = 3 if grid_step <= 0.25 else (2 if grid_step <= 0.35 else 1)
    return Dataset(
        name="D-I",
        train_points=points[train],
        train_labels=labels[train],
        test_points=points[~train],
        test_labels=labels[~train],
        preset=TopologyPreset(k=13, scale=2, stride=stride, maxdim=1),
        true_betti={0: (9, 0), 1: (1, 9)},
        seed=seed,
        description="2-D: nine disks (label 0) inside a square with nine holes (label 1)",
        options={"size": len(points), "grid_step": grid_step},
    )


# ---------------------------------------------------------------------------------------------
# D-II: nine pairs of linked solid tori (3-D)
# ---------------------------------------------------------------------------------------------

D2_CIRCLES = 36  # 9 pairs x 2 rings x 2 circles
D2_POINTS_PER_CIRCLE = 1_250
D2_MIN_POINTS_PER_CIRCLE = 80
D2_NOISE = 0.425
D2_RADII = (1.5, 1.3)
D2_SHIFT = 1.3
# (pair centre, label f of its xy-ring; its xz-ring has label 1 - f), in generator order.
D2_PAIRS = (
    ((3, 3, 3), 0),
    ((-3, -3, 3), 1),
    ((-3, 3, -3), 0),
    ((3, -3, -3), 1),
    ((0, 0, 0), 0),
    ((-3, -3, -3), 0),
    ((3, 3, -3), 1),
    ((-3, 3, 3), 0),
    ((3, -3, 3), 1),
)


def d2_points(
    points_per_circle: int, noise: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Unnormalised D-II points in generator order: pair by pair, xy-ring then xz-ring.

    Returns:
        points float64[36 * points_per_circle, 3], labels int32[36 * points_per_circle].
    """
    angles = 2 * np.pi * np.arange(points_per_circle) / points_per_circle
    parts, part_labels = [], []
    for centre, label in D2_PAIRS:
        for plane, ring_label in (("xy", label), ("xz", 1 - label)):
            for radius in D2_RADII:
                u, v, w = rng.uniform(-noise, noise, size=(3, points_per_circle))
                in_plane_1 = radius * np.sin(angles) + u
                in_plane_2 = radius * np.cos(angles) + v
                if plane == "xy":
                    ring = np.stack([in_plane_1 + D2_SHIFT, in_plane_2, w], axis=1)
                else:
                    ring = np.stack([in_plane_1, w, in_plane_2], axis=1)
                parts.append(ring + np.asarray(centre, dtype=np.float64))
                part_labels.append(np.full(points_per_circle, ring_label, dtype=np.int32))
    return np.concatenate(parts), np.concatenate(part_labels)


def make_d2(seed: int = 0, size: int | None = None) -> Dataset:
    """D-II: nine pairs of linked solid tori; both labels have Betti numbers (9, 9, 0).

    Args:
        seed: seeds the uniform noise; the test set uses fresh noise from the same generator.
        size: number of training points (default 45,000); rounded down to a multiple of 36.
    """
    _check_size("D-II", size, D2_CIRCLES * D2_POINTS_PER_CIRCLE)
    per_circle = D2_POINTS_PER_CIRCLE if size is None else size // D2_CIRCLES
    if per_circle < D2_MIN_POINTS_PER_CIRCLE:
        raise InputError(
            f"D-II size {size} is too small to keep the tori apart: each of the 36 circles "
            f"needs >= {D2_MIN_POINTS_PER_CIRCLE} points; use size >= "
            f"{D2_MIN_POINTS_PER_CIRCLE * D2_CIRCLES}"
        )
    rng = np.random.default_rng(seed)
    train_points, train_labels = d2_points(per_circle, D2_NOISE, rng)
    test_points, test_labels = d2_points(per_circle, D2_NOISE, rng)
    scale = np.max(np.abs(train_points), axis=0)
    # Paper density: every 4th of 22,500 points per class. Smaller versions thin less, and
    # below 2,250 points per class a smaller k keeps linked tori apart.
    per_class = 18 * per_circle
    stride = max(1, min(4, round(per_class / 5_625)))
    k = 34 if per_class / stride >= 2_500 else 16
    return Dataset(
        name="D-II",
        train_points=(train_points / scale).astype(np.float32),
        train_labels=train_labels,
        test_points=(test_points / scale).astype(np.float32),
        test_labels=test_labels,
        preset=TopologyPreset(k=k, scale=2, stride=stride, maxdim=2),
        true_betti={0: (9, 9, 0), 1: (9, 9, 0)},
        seed=seed,
        description="3-D: nine pairs of linked solid tori, one torus of each pair per label",
        options={"size": len(train_labels), "points_per_circle": per_circle, "noise": D2_NOISE},
    )


# ---------------------------------------------------------------------------------------------
# D-III: nested spheres (3-D)
# ---------------------------------------------------------------------------------------------

# 1000 * (first random.random() after random.seed(1)) in CPython: the paper's phase.
D3_FIRST_PHASE = 134.36424411240122
D3_CENTRES = (
    (0, 0, 0),
    (-3, -3, -3),
    (3, 3, 3),
    (-3, 3, 3),
    (-3, 3, -3),
    (-3, -3, 3),
    (3, -3, -3),
    (3, -3, 3),
    (3, 3, -3),
)


def fibonacci_sphere(n: int, radius: float, phase: float) -> np.ndarray:
    """float64[n, 3]: Fibonacci sphere of n points and given radius, longitudes shifted by phase."""
    i = np.arange(n)
    y = (i + 0.5) * 2.0 / n - 1.0
    rho = np.sqrt(1.0 - y * y)
    phi = np.mod(i + phase, n) * (np.pi * (3.0 - np.sqrt(5.0)))
    return radius * np.stack([rho * np.cos(phi), y, rho * np.sin(phi)], axis=1)


def _d3_unit_parts(n: int, inner_n: int, phases: np.ndarray) -> list[tuple[int, float, float, int]]:
    """The five spheres of one unit in generator order: (points, radius, phase, label)."""
    return [
        (n, 1.0, phases[0], 0),
        (n, 1.05, phases[1], 0),
        (n, 2.0, phases[2], 1),
        (n, 2.05, phases[3], 1),
        (inner_n, 0.5, phases[4], 1),
    ]


def d3_points(n: int, inner_n: int, phases: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Unnormalised D-III points, unit by unit; phases float[9, 5] gives each sphere's phase.

    Returns:
        points float64[9 * (4n + inner_n), 3], labels int32[9 * (4n + inner_n)].
    """
    parts, part_labels = [], []
    for unit, centre in enumerate(D3_CENTRES):
        for count, radius, phase, label in _d3_unit_parts(n, inner_n, phases[unit]):
            parts.append(fibonacci_sphere(count, radius, phase) + np.asarray(centre, float))
            part_labels.append(np.full(count, label, dtype=np.int32))
    return np.concatenate(parts), np.concatenate(part_labels)


def make_d3(seed: int = 0, size: int | None = None) -> Dataset:
    """D-III: nested spheres; true Betti numbers (9, 0, 9) for label 0 and (18, 0, 18) for label 1.

    The training set is the paper's deterministic Fibonacci spheres (independent of the seed);
    the test set uses sphere phases drawn uniformly from the seed, so its points differ.

    Args:
        seed: seeds the test set's phases.
        size: number of training points (default 37,800); the spheres shrink in proportion.
    """
    _check_size("D-III", size, 37_800)
    n, inner_n = 1_000, 200
    if size is not None:
        n = round(1_000 * size / 37_800)
        inner_n = round(200 * size / 37_800)
        if inner_n < 20:
            raise InputError(
                f"D-III size {size} is too small: the inner spheres need >= 20 points; use "
                f"size >= {math.ceil(37_800 * 20 / 200)}"
            )
    paper_phases = np.ones((9, 5))
    paper_phases[:, 0] = D3_FIRST_PHASE
    train_points, train_labels = d3_points(n, inner_n, paper_phases)
    rng = np.random.default_rng(seed)
    test_phases = rng.uniform(0.0, 1.0, size=(9, 5)) * np.array([n, n, n, n, inner_n])
    test_points, test_labels = d3_points(n, inner_n, test_phases)
    scale = np.max(np.abs(train_points), axis=0)
    # Smaller versions thin less; below the paper's density k = 34 joins neighbouring units, while
    # k = 8 recovers the Betti numbers as sampled, (18, 0, 18) for label 1 (measured).
    per_class = 9 * 4 * n // 2
    stride = max(1, min(4, round(per_class / 4_500)))
    k = 34 if per_class / stride >= 4_400 else 8
    return Dataset(
        name="D-III",
        train_points=(train_points / scale).astype(np.float32),
        train_labels=train_labels,
        test_points=(test_points / scale).astype(np.float32),
        test_labels=test_labels,
        preset=TopologyPreset(k=k, scale=2, stride=stride, maxdim=2),
        # As sampled. At the paper's preset the thinned inner spheres fill in and the measured
        # input value of label 1 is (18, 0, 9), which the paper reports.
        true_betti={0: (9, 0, 9), 1: (18, 0, 18)},
        seed=seed,
        description="3-D: nine units of nested spheres, a shell pair (label 0) between two more",
        options={"size": len(train_labels), "sphere_points": n, "inner_sphere_points": inner_n},
    )
