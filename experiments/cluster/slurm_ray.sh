#!/usr/bin/env bash
# Run a topnn-jax experiment on a Ray cluster inside one SLURM allocation: the first node runs
# the Ray head and the driver (the only writer of the store), every node runs Ray workers;
# training groups go to the GPUs, Betti jobs to the CPUs.
#
#   sbatch experiments/cluster/slurm_ray.sh experiments/paper/d2_10_by_25.toml results/d2_10_by_25
#
# Submitting it again with the same OUT continues the store (--resume): finished networks and
# Betti rows are kept, so an allocation cut short by its time limit loses only running work.
# Every node needs the same Python environment with topnn-jax[ray] (TOPNN_VENV, shared disk).
#SBATCH --job-name=topnn-jax
#SBATCH --nodes=3
#SBATCH --ntasks-per-node=1
#SBATCH --cpus-per-task=32
#SBATCH --gpus-per-node=1
#SBATCH --time=04:00:00
set -euo pipefail
config=${1:?usage: sbatch slurm_ray.sh CONFIG.toml OUT}
out=${2:?usage: sbatch slurm_ray.sh CONFIG.toml OUT}
# shellcheck disable=SC1091
source "${TOPNN_VENV:-$HOME/topnn-venv}/bin/activate"

mapfile -t nodes < <(scontrol show hostnames "$SLURM_JOB_NODELIST")
head=${nodes[0]}
head_ip=$(srun --nodes=1 --ntasks=1 -w "$head" hostname --ip-address | awk '{print $1}')
address="$head_ip:6379"

# The head, then one worker per other node; `--block` keeps each srun step alive.
srun --nodes=1 --ntasks=1 -w "$head" \
    ray start --head --node-ip-address="$head_ip" --port=6379 \
    --num-cpus="$SLURM_CPUS_PER_TASK" --block &
sleep 15
for node in "${nodes[@]:1}"; do
    srun --nodes=1 --ntasks=1 -w "$node" \
        ray start --address="$address" --num-cpus="$SLURM_CPUS_PER_TASK" --block &
done
sleep 15

resume=()
if [[ -f "$out/config.json" ]]; then
    resume=(--resume)
fi
topnn-jax run "$config" --out "$out" --executor ray --address "$address" "${resume[@]}"
