"""The results store: one directory per experiment, safe to interrupt and resume. It owns every
on-disk format of the project.

Layout::

    DIR/config.json        the resolved experiment config
    DIR/environment.json   package versions, JAX backend and devices, CPU count
    DIR/training.json      member-steps the latest run trained: computed and useful
    DIR/networks.csv       one row per trained network (`records.NETWORK_COLUMNS`)
    DIR/betti.csv          one row per network x layer x class (`records.betti_columns`), and
                           per training step where measured during training
    DIR/params/            trained parameters, one file per network (`params.params_path`)
    DIR/diagrams/          persistence diagrams of measured networks (`measured.diagrams_path`)

* `csv_table`: the append-only CSV mechanism (rows written as they arrive, rewritten sorted);
* `records`: the columns, keys and rows of the two tables, and the JSON files;
* `params`: a trained network's file;
* `directory`: creating a store, or checking that a resumed run is the same experiment;
* `lock`: one writer per store (an exclusive lock on DIR/.lock, held while a run writes);
* `measured`: a store of networks measured by `topnn_jax.measure`, and their diagrams.

`topnn_jax.results` reads a store; only the pipeline and the command line write one. Names are
imported on first use, so that a reader of the tables does not import the writers' modules.
"""

from topnn_jax._lazy import attach as _attach

__getattr__, __dir__, __all__ = _attach(
    __name__,
    {
        ".csv_table": ("CsvTable", "format_row", "format_value", "read_rows"),
        ".directory": ("check_store", "environment", "open_store", "resumable_part"),
        ".lock": ("LOCK_FILE", "StoreLock"),
        ".measured": ("DIAGRAMS_DIR", "diagrams_path", "load_diagrams", "save_measurement"),
        ".params": ("PARAMS_DIR", "load_network", "params_path", "save_network"),
        ".records": (
            "BETTI_FILE",
            "BETTI_KEY",
            "CONFIG_FILE",
            "ENVIRONMENT_FILE",
            "MEASURE_SECTION",
            "NETWORKS_FILE",
            "NETWORK_COLUMNS",
            "NETWORK_KEY",
            "STEP_COLUMN",
            "TRAINING_FILE",
            "betti_columns",
            "betti_key",
            "betti_problem",
            "betti_row",
            "betti_table",
            "network_problem",
            "network_row",
            "read_json",
            "write_json",
            "write_networks_csv",
        ),
    },
)
