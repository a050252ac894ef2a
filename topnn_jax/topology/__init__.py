"""Betti numbers of point clouds: the paper's kNN hop-scale Vietoris-Rips protocol.

* `cloud`: checks, deduplication, the kNN engine rule, `betti_numbers`, `persistence`;
* `job`: one prepared Betti job and `run_job`, the one path from a cloud to a `BettiResult`
  (no JAX: what worker processes import);
* `knn_host`, `knn_device`: the exact kNN table on the host (kd-tree or brute force) or on
  the JAX device;
* `graph`, `collapse`, `homology`: the hop-scale graph and its memory check, the exact
  collapses, and the persistent-homology engine (giotto-ph) with the `COLLAPSES` registry;
* `pool`: the local Betti executors (a process pool, a serial one);
* `scan`: Betti numbers of a data set's input over a (k, scale) grid;
* `parameters`: the limits of k, scale, stride and maxdim.

Names are imported on first use, so that a worker importing `job` does not import JAX.
"""

from topnn_jax._lazy import attach as _attach

__getattr__, __dir__, __all__ = _attach(
    __name__,
    {
        ".cloud": (
            "Persistence",
            "betti_numbers",
            "distinct_points",
            "knn_engine",
            "neighbour_table",
            "persistence",
            "prepare_cloud",
            "prepare_job",
        ),
        ".homology": ("GraphBetti",),
        ".job": (
            "BettiJob",
            "BettiResult",
            "JobOptions",
            "PreparedCloud",
            "available_cpus",
            "run_job",
        ),
        ".parameters": ("COLLAPSES", "MAX_HOMOLOGY_DIM", "check_parameter"),
        ".pool": (
            "AutoExecutor",
            "BettiExecutor",
            "BettiPool",
            "SerialExecutor",
            "close_shared_pool",
        ),
        ".scan": ("ParameterScan", "ScanEntry", "scan_parameters"),
    },
)
