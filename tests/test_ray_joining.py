"""Joining Ray clusters (no Ray is connected at the start of these tests): an experiment on a
simulated two-node cluster (`ray.cluster_utils.Cluster`, one CPU per node) gives the local
executor's tables; no cluster to join is a clear error."""

from __future__ import annotations

import pytest

ray = pytest.importorskip("ray", reason="the ray extra is not installed")

from ray.cluster_utils import Cluster  # noqa: E402
from test_ray_cluster import on_ray, same_tables  # noqa: E402

from topnn_jax.errors import InputError  # noqa: E402
from topnn_jax.pipeline import run_experiment  # noqa: E402
from topnn_jax.ray_cluster import RayCluster, starting_ray_processes  # noqa: E402


def test_two_nodes_give_the_local_tables(tiny_store, tmp_path, tiny_config):
    with starting_ray_processes():
        cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1})
    try:
        with starting_ray_processes():
            cluster.add_node(num_cpus=1)
        cluster.wait_for_nodes()
        store = run_experiment(on_ray(tiny_config, cluster.address), out=tmp_path / "store")
        assert not ray.is_initialized()  # the run joined the cluster and left it
    finally:
        cluster.shutdown()
    assert same_tables(store, tiny_store)


def test_no_cluster_to_join_is_a_clear_error():
    with pytest.raises(InputError, match="no Ray cluster at address 'auto'.*ray start --head"):
        RayCluster("auto")
