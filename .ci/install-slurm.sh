#!/usr/bin/env bash
# Installs what tests/test_slurm.py needs: Debian's SLURM (slurmctld, slurmd, the client commands,
# the basic plugins) and MUNGE. Idempotent and quiet; called by .ci/run. Starts no service: the test
# runs its own throw-away daemons (tests/slurm_cluster.py).
# Checked with Debian 12: slurm-wlm 22.05.8-4+deb12u3, munge 0.5.15-2+deb12u1.
set -euo pipefail

needed=(munged munge slurmctld slurmd sbatch srun squeue sinfo scancel scontrol)
missing=()
for prog in "${needed[@]}"; do
    command -v "$prog" >/dev/null 2>&1 || [ -x "/usr/sbin/$prog" ] || missing+=("$prog")
done
if [ "${#missing[@]}" -eq 0 ]; then
    exit 0
fi

SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo -n"; fi
export DEBIAN_FRONTEND=noninteractive
# --no-install-recommends: slurm-wlm recommends every optional plugin and its -dev package.
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends slurm-wlm munge >/dev/null
echo "installed: $(dpkg-query -W -f='${Package} ${Version}, ' slurm-wlm slurmctld slurmd slurm-client munge)"
