"""topnn-jax: how the topology of a data set changes through the layers of neural networks.

JAX trains many small networks at once; giotto-ph measures the Betti numbers of every layer.

The public API, by area (each name is imported on first use, so that importing one module of
the package, e.g. `topnn_jax.results`, does not import JAX's training loop):

* data sets: `load`, `Dataset`, `TopologyPreset`;
* networks: `ArchitectureSpec`, `ACTIVATIONS`, `PAPER_ACTIVATIONS`, `layer_outputs`,
  `Member`, `make_members`, `TrainedNetwork`, `TrainingConfig`, `train`;
* Betti numbers: `betti_numbers`, `persistence`, `BettiResult`, `Persistence`,
  `scan_parameters`;
* any network's layers: `measure`, `Measurement`, `LayerBetti`, `flax_layer_outputs`,
  `load_diagrams`;
* experiments: `ExperimentConfig`, `load_config`, `parse_config`, `run_experiment`,
  `RunEvents`; who runs the work: `BettiExecutor`, `TrainingExecutor`, `AutoExecutor` (the
  default of `measure`: serial for small work, else a shared warm pool that
  `close_shared_pool` stops), `BettiPool`, `SerialExecutor`, `LocalDevices`, `RayCluster` (a
  Ray cluster's executors, needs the ray extra);
* results: `load_store`, `load_stores`, `Store`, `summarize`, `load_network`,
  `evaluate_claims`, `CLAIMS`, `write_report`;
* errors: `InputError`, `WorkLostError`.
"""

from topnn_jax._lazy import attach as _attach

__version__ = "0.1.0"

__getattr__, __dir__, __all__ = _attach(
    __name__,
    {
        ".architecture": ("PAPER_ACTIVATIONS", "ArchitectureSpec"),
        ".claims": ("CLAIMS", "evaluate_claims"),
        ".config": ("ExperimentConfig", "TrainingConfig", "load_config", "parse_config"),
        ".datasets": ("Dataset", "TopologyPreset", "load"),
        ".errors": ("InputError", "WorkLostError"),
        ".executors": ("BettiExecutor", "LocalDevices", "TrainingExecutor"),
        ".flax_layers": ("flax_layer_outputs",),
        ".measurement": ("LayerBetti", "Measurement", "measure"),
        ".models": ("ACTIVATIONS", "layer_outputs"),
        ".networks": ("Member", "TrainedNetwork", "make_members"),
        ".pipeline": ("RunEvents", "run_experiment"),
        ".ray_cluster": ("RayCluster",),
        ".report": ("write_report",),
        ".results": ("Store", "load_store", "load_stores", "summarize"),
        ".store": ("load_diagrams", "load_network"),
        ".topology": (
            "AutoExecutor",
            "BettiPool",
            "BettiResult",
            "Persistence",
            "SerialExecutor",
            "betti_numbers",
            "close_shared_pool",
            "persistence",
            "scan_parameters",
        ),
        ".training": ("train",),
    },
)
