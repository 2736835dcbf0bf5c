"""A throw-away single-node SLURM cluster on this machine, from Debian's packages (slurm-wlm, munge).

For the SLURM test (tests/test_slurm.py) and for trying the SLURM profile by hand. It needs root and
``apt-get install slurm-wlm munge`` (.ci/install-slurm.sh). Everything it writes lives in one folder
(a fresh temporary one by default): a MUNGE key and socket, slurm.conf, the state and spool folders,
the daemons' logs, a record of every finished job (``jobcomp.txt``) and ``bin/``, wrappers of the
SLURM commands. Nothing under /etc is touched and no system service is used: commands find the cluster
through ``SLURM_CONF`` and the wrappers (``SlurmCluster.env`` sets both).

As a context manager::

    with SlurmCluster() as cluster:
        subprocess.run(["sbatch", "--wrap", "hostname"], env=cluster.env)

From the command line (the daemons outlive the command; ``stop`` ends exactly the processes that
``start`` recorded, after checking that they are still the same programs)::

    python tests/slurm_cluster.py start [--dir DIR] [--gpus N]   # prints an `export SLURM_CONF=... PATH=...`
    python tests/slurm_cluster.py status [--dir DIR]
    python tests/slurm_cluster.py stop [--dir DIR] [--keep]
    python tests/slurm_cluster.py run [--dir DIR] -- COMMAND ...  # start, run COMMAND, stop

The one node has the machine's CPUs and memory (as ``slurmd -C`` reports them) and is in a single
partition (``debug``, the default). There is no accounting database, so ``sacct`` does not work: tools
must query job states with ``squeue``, which keeps finished jobs for ``MinJobAge`` (an hour here).
``gpus=N`` declares N *fake* GPUs (a ``gpu`` GRES on harmless device files such as /dev/null) so that
jobs asking for ``--gpus``/``--gres=gpu`` are scheduled; SLURM sets their CUDA_VISIBLE_DEVICES, but
they see no CUDA device and run on the CPU.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

DEFAULT_DIR = Path(tempfile.gettempdir()) / "uc-slurm-cluster"
PARTITION = "debug"
# Programs the cluster needs, and the Debian package that has each.
PROGRAMS = {
    "munged": "munge",
    "munge": "munge",
    "slurmctld": "slurmctld",
    "slurmd": "slurmd",
    "sinfo": "slurm-client",
    "squeue": "slurm-client",
    "sbatch": "slurm-client",
    "scancel": "slurm-client",
    "scontrol": "slurm-client",
    "srun": "slurm-client",
}
# The client commands that get a wrapper setting SLURM_CONF (see SlurmCluster.env).
CLIENTS = (
    "sbatch",
    "srun",
    "salloc",
    "squeue",
    "sinfo",
    "scancel",
    "scontrol",
    "sacct",
    "sacctmgr",
    "sshare",
    "sstat",
    "sprio",
    "sdiag",
)
# Character devices every Linux system has, standing in for the device files of fake GPUs.
FAKE_GPU_FILES = ("/dev/null", "/dev/zero", "/dev/full", "/dev/urandom", "/dev/random")
# What SlurmCluster.jobs() reports of each job (squeue --Format names and column widths).
JOB_FIELDS = {
    "JobID": 20,
    "Name": 100,
    "Comment": 300,
    "tres-per-job": 40,
    "tres-per-node": 40,
    "Partition": 40,
    "Account": 40,
    "State": 20,
    "NumCPUs": 10,
    "MinMemory": 20,
    "TimeLimit": 20,
    "WorkDir": 300,
}
SBIN = "/usr/local/sbin:/usr/sbin:/sbin:/usr/bin:/bin"
DAEMONS = ("munged", "slurmctld", "slurmd")  # started in this order, stopped in the reverse one


class SlurmUnavailable(RuntimeError):
    """This machine cannot run the throw-away cluster (not root, or the packages are missing)."""


def which(program: str) -> str | None:
    """The program's path, looking in the sbin folders too (not on a normal user's PATH in Debian)."""
    return shutil.which(program) or shutil.which(program, path=SBIN)


def unavailable_reason() -> str | None:
    """Why this machine cannot start a cluster, or None if it can."""
    reasons = []
    if os.geteuid() != 0:
        reasons.append("the throw-away SLURM cluster must run as root (slurmd launches jobs as their user)")
    missing = sorted({pkg for prog, pkg in PROGRAMS.items() if which(prog) is None})
    if missing:
        reasons.append(
            "Debian's SLURM packages are not installed (missing: "
            + ", ".join(missing)
            + "); run .ci/install-slurm.sh (apt-get install slurm-wlm munge)"
        )
    return "; and ".join(reasons) or None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _node_hardware() -> dict[str, str]:
    """The node line slurmd itself detects (NodeName, CPUs, Boards, ..., RealMemory)."""
    out = subprocess.run([which("slurmd"), "-C"], capture_output=True, text=True, check=True).stdout
    line = next(ln for ln in out.splitlines() if ln.startswith("NodeName="))
    return dict(item.split("=", 1) for item in line.split())


def _cmdline(pid: int) -> list[str] | None:
    """The command line of a live (not zombie) process, or None."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        if stat.rsplit(")", 1)[1].split()[0] in ("Z", "X"):
            return None
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")[:-1]
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return None


class SlurmCluster:
    """Start munged, slurmctld and slurmd on this machine with all state under ``base_dir``.

    ``base_dir``: the cluster's folder (a fresh temporary folder when None; removed on stop only if
    this object created it). ``gpus``: fake GPUs to declare on the node. ``keep``: leave the folder
    (logs, jobcomp.txt) in place on stop. ``min_job_age``: seconds squeue keeps finished jobs.
    """

    def __init__(
        self,
        base_dir: str | Path | None = None,
        gpus: int = 0,
        keep: bool = False,
        partition: str = PARTITION,
        timeout: float = 60,
        min_job_age: int = 3600,
    ):
        # A short path: the MUNGE socket's path must fit in a Unix socket address (108 bytes).
        self.base = (
            Path(base_dir).resolve() if base_dir is not None else Path(tempfile.mkdtemp(prefix="uc-slurm-"))
        )
        self.gpus, self.keep, self.partition, self.timeout = gpus, keep, partition, timeout
        self.min_job_age = min_job_age
        self.created_dir = base_dir is None or not self.base.exists()
        self.conf = self.base / "slurm.conf"
        self.munge_socket = self.base / "munge" / "munge.socket"
        self.jobcomp = self.base / "jobcomp.txt"
        self.logs = self.base / "log"
        self.node = None
        self.pids: dict[str, int] = {}
        self._procs: dict[str, subprocess.Popen] = {}

    # -- what callers use -------------------------------------------------------------------------

    @property
    def bin(self) -> Path:
        """A folder of wrappers of the SLURM commands that point them at this cluster."""
        return self.base / "bin"

    @property
    def env(self) -> dict[str, str]:
        """os.environ plus SLURM_CONF and, first on PATH, the wrappers (pass it to sbatch, snakemake, ...).

        SLURM_CONF alone is not enough: inside a job, Snakemake's jobstep plugin starts the rule with
        ``srun`` after removing every SLURM_* variable, so that srun would look for the system's
        /etc/slurm/slurm.conf. The wrappers on PATH (kept by sbatch --export=ALL) set SLURM_CONF again.
        """
        return {
            **os.environ,
            "SLURM_CONF": str(self.conf),
            "PATH": f"{self.bin}{os.pathsep}{os.environ.get('PATH', '')}",
        }

    def run(self, *args: str, check: bool = True, timeout: float = 30) -> subprocess.CompletedProcess:
        """Run a SLURM client command (sinfo, squeue, ...) against this cluster."""
        return subprocess.run(
            list(args), env=self.env, capture_output=True, text=True, check=check, timeout=timeout
        )

    def jobs(self) -> list[dict[str, str]]:
        """Every job the controller still knows (all of them for ``min_job_age`` seconds after they end):
        dicts with the keys of ``JOB_FIELDS`` (JobID, Name, Comment, tres-per-job, ..., State)."""
        fmt = ",".join(f"{name}:{width}|" for name, width in JOB_FIELDS.items())
        out = self.run("squeue", "--states=all", "--noheader", f"--Format={fmt}").stdout
        return [
            dict(zip(JOB_FIELDS, (v.strip() for v in line.split("|"))))
            for line in out.splitlines()
            if line.strip()
        ]

    def finished_jobs(self) -> list[dict[str, str]]:
        """Every job that ended, from the jobcomp/filetxt record: dicts of JobId, Name, JobState, ..."""
        if not self.jobcomp.exists():
            return []
        jobs = []
        for line in self.jobcomp.read_text().splitlines():
            fields = {}
            for item in line.split():
                key, _, value = item.partition("=")
                fields[key] = value
            if fields:
                jobs.append(fields)
        return jobs

    def __enter__(self) -> SlurmCluster:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- start ------------------------------------------------------------------------------------

    def start(self) -> None:
        reason = unavailable_reason()
        if reason:
            raise SlurmUnavailable(reason)
        try:
            self._write_files()
            self._start(
                "munged",
                [
                    which("munged"),
                    "--foreground",
                    "--force",
                    f"--socket={self.munge_socket}",
                    f"--key-file={self.base / 'munge' / 'munge.key'}",
                    f"--pid-file={self.base / 'munge' / 'munged.pid'}",
                    f"--log-file={self.logs / 'munged.log'}",
                    f"--seed-file={self.base / 'munge' / 'munged.seed'}",
                ],
            )
            self._wait(lambda: self.munge_socket.exists(), "munged to open its socket", "munged")
            self._start("slurmctld", [which("slurmctld"), "-D", "-f", str(self.conf)])
            self._start("slurmd", [which("slurmd"), "-D", "-f", str(self.conf)])
            self._wait(self._node_idle, f"node {self.node} to be idle in sinfo", "slurmd")
            self._save_state()
        except BaseException:
            self.stop()
            raise

    def _write_files(self) -> None:
        for sub in ("munge", "state", "spool", "log", "run"):
            (self.base / sub).mkdir(parents=True, exist_ok=True)
        os.chmod(self.base, 0o755)  # jobs of other users could read slurm.conf; munge/ stays private
        os.chmod(self.base / "munge", 0o700)
        key = self.base / "munge" / "munge.key"
        if not key.exists():
            key.write_bytes(os.urandom(1024))
            os.chmod(key, 0o400)
        self.bin.mkdir(exist_ok=True)
        for name in CLIENTS:
            real = shutil.which(
                name, path=os.environ.get("PATH", "").replace(str(self.bin), "") + os.pathsep + SBIN
            )
            if real:
                wrapper = self.bin / name
                wrapper.write_text(f'#!/bin/sh\nSLURM_CONF="{self.conf}" exec "{real}" "$@"\n')
                wrapper.chmod(0o755)
        hw = _node_hardware()
        self.node = hw.pop("NodeName")
        node_line = " ".join(f"{k}={v}" for k, v in hw.items())
        gres = ""
        if self.gpus:
            # SLURM 22.05 ignores a GPU GRES without device files, so each fake GPU borrows a harmless
            # character device (nothing opens them: task/none confines no devices).
            if self.gpus > len(FAKE_GPU_FILES):
                raise ValueError(f"at most {len(FAKE_GPU_FILES)} fake GPUs")
            gres = f" Gres=gpu:{self.gpus}"
            (self.base / "gres.conf").write_text(
                "".join(f"NodeName={self.node} Name=gpu File={f}\n" for f in FAKE_GPU_FILES[: self.gpus])
            )
        lines = [
            "# A throw-away single-node cluster written by tests/slurm_cluster.py",
            "ClusterName=uctest",
            f"SlurmctldHost={self.node}(127.0.0.1)",
            "SlurmUser=root",
            "SlurmdUser=root",
            f"SlurmctldPort={_free_port()}",
            f"SlurmdPort={_free_port()}",
            "AuthType=auth/munge",
            "CredType=cred/munge",
            f"AuthInfo=socket={self.munge_socket}",
            f"StateSaveLocation={self.base / 'state'}",
            f"SlurmdSpoolDir={self.base / 'spool'}",
            f"SlurmctldPidFile={self.base / 'run' / 'slurmctld.pid'}",
            f"SlurmdPidFile={self.base / 'run' / 'slurmd.pid'}",
            f"SlurmctldLogFile={self.logs / 'slurmctld.log'}",
            f"SlurmdLogFile={self.logs / 'slurmd.log'}",
            "SlurmctldDebug=info",
            "SlurmdDebug=info",
            "MailProg=/bin/true",
            # No cgroups: processes are tracked through /proc, tasks are not confined.
            "ProctrackType=proctrack/linuxproc",
            "TaskPlugin=task/none",
            "JobAcctGatherType=jobacct_gather/none",
            # No accounting database (so no sacct); one line per finished job in jobcomp.txt instead.
            "AccountingStorageType=accounting_storage/none",
            "JobCompType=jobcomp/filetxt",
            f"JobCompLoc={self.jobcomp}",
            # Finished jobs stay visible to `squeue --states=all` (with their comment, GRES, partition,
            # limits) for an hour: status checks by squeue need this, and a test can inspect every job.
            f"MinJobAge={self.min_job_age}",
            "MpiDefault=none",
            "SwitchType=switch/none",
            "SchedulerType=sched/backfill",
            # CPUs and memory are consumable: several small jobs share the node.
            "SelectType=select/cons_tres",
            "SelectTypeParameters=CR_Core_Memory",
            "DefMemPerCPU=1024",  # a job without --mem gets 1 GiB per CPU, not the whole node
            "ReturnToService=2",
            "SlurmdTimeout=60",
            "InactiveLimit=0",
            "KillWait=5",
            *(["GresTypes=gpu"] if self.gpus else []),
            f"NodeName={self.node} NodeAddr=127.0.0.1 {node_line}{gres} State=UNKNOWN",
            f"PartitionName={self.partition} Nodes={self.node} Default=YES MaxTime=INFINITE State=UP",
        ]
        self.conf.write_text("\n".join(lines) + "\n")

    def _start(self, name: str, cmd: list[str]) -> None:
        out = open(self.logs / f"{name}.out", "ab")
        # A session of their own: the daemons outlive a `start` from the command line, and a Ctrl-C
        # meant for the caller does not reach them.
        proc = subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=self.env,
            cwd=self.base,
            start_new_session=True,
        )
        out.close()
        self._procs[name], self.pids[name] = proc, proc.pid

    def _wait(self, ready, what: str, daemon: str) -> None:
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            for name, proc in self._procs.items():
                if proc.poll() is not None:
                    raise RuntimeError(
                        f"{name} exited with {proc.returncode} while waiting for {what}:\n" + self._tail(name)
                    )
            if ready():
                return
            time.sleep(0.5)
        raise TimeoutError(f"waited {self.timeout:.0f} s for {what}:\n" + self._tail(daemon))

    def _tail(self, name: str, lines: int = 30) -> str:
        text = ""
        for path in (self.logs / f"{name}.out", self.logs / f"{name}.log"):
            if path.exists():
                text += (
                    f"--- {path}\n" + "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) + "\n"
                )
        return text

    def _node_idle(self) -> bool:
        result = self.run("sinfo", "--noheader", "--Node", "--format=%N %t", check=False, timeout=10)
        states = dict(line.split() for line in result.stdout.splitlines() if line.strip())
        return states.get(self.node, "").rstrip("*~#") == "idle"

    def _save_state(self) -> None:
        state = {
            "pids": self.pids,
            "conf": str(self.conf),
            "node": self.node,
            "partition": self.partition,
            "created_dir": self.created_dir,
        }
        (self.base / "cluster.json").write_text(json.dumps(state, indent=1))

    # -- stop -------------------------------------------------------------------------------------

    def stop(self) -> None:
        """Cancel the cluster's jobs, end the daemons this object started (by pid), remove the folder."""
        if self.pids.get("slurmctld") and self._alive("slurmctld"):
            # Cancel whatever is left so that no job step outlives its slurmd.
            self.run("scancel", f"--partition={self.partition}", check=False, timeout=15)
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                queue = self.run(
                    "squeue",
                    "--noheader",
                    "--states=RUNNING,COMPLETING",
                    "--format=%i",
                    check=False,
                    timeout=10,
                )
                if queue.returncode != 0 or not queue.stdout.strip():
                    break
                time.sleep(0.5)
        for name in reversed(DAEMONS):
            if name in self.pids:
                self._terminate(name)
        self.pids.clear()
        self._procs.clear()
        state = self.base / "cluster.json"
        if state.exists():
            state.unlink()
        if self.created_dir and not self.keep and self.base.exists():
            shutil.rmtree(self.base, ignore_errors=True)

    def _alive(self, name: str) -> bool:
        proc = self._procs.get(name)
        if proc is not None:
            return proc.poll() is None
        return self._is_ours(name)

    def _is_ours(self, name: str) -> bool:
        """Is the recorded pid of ``name`` still that daemon of this cluster (not a reused pid)?"""
        cmd = _cmdline(self.pids[name])
        return bool(cmd) and Path(cmd[0]).name == name and any(str(self.base) in arg for arg in cmd)

    def _terminate(self, name: str) -> None:
        pid = self.pids[name]
        if not self._alive(name):
            return
        for sig, grace in ((signal.SIGTERM, 15), (signal.SIGKILL, 5)):
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                return
            deadline = time.monotonic() + grace
            while time.monotonic() < deadline:
                proc = self._procs.get(name)
                if proc is not None:
                    try:
                        proc.wait(timeout=0.2)
                        return
                    except subprocess.TimeoutExpired:
                        continue
                if _cmdline(pid) is None:
                    return
                time.sleep(0.2)

    @classmethod
    def attach(cls, base_dir: str | Path) -> SlurmCluster:
        """The cluster that ``start`` (from another process) left running in ``base_dir``."""
        base = Path(base_dir)
        state = json.loads((base / "cluster.json").read_text())
        cluster = cls(base, partition=state["partition"])
        cluster.pids = {k: int(v) for k, v in state["pids"].items()}
        cluster.node = state["node"]
        cluster.created_dir = state["created_dir"]
        return cluster


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("command", choices=["start", "stop", "status", "run"])
    parser.add_argument("--dir", type=Path, default=DEFAULT_DIR, help=f"the cluster's folder [{DEFAULT_DIR}]")
    parser.add_argument("--gpus", type=int, default=0, help="fake GPUs to declare on the node [0]")
    parser.add_argument("--keep", action="store_true", help="stop/run: keep the folder (logs, jobcomp.txt)")
    argv = list(sys.argv[1:] if argv is None else argv)
    rest = argv[argv.index("--") + 1 :] if "--" in argv else []
    args = parser.parse_args(argv[: argv.index("--")] if "--" in argv else argv)
    state = args.dir / "cluster.json"

    if args.command == "start":
        if state.exists():
            print(f"a cluster is already recorded in {args.dir}; stop it first", file=sys.stderr)
            return 1
        cluster = SlurmCluster(args.dir, gpus=args.gpus, keep=True)
        try:
            cluster.start()
        except (SlurmUnavailable, RuntimeError, TimeoutError) as exc:
            print(exc, file=sys.stderr)
            return 1
        print(f"# node {cluster.node}, partition {cluster.partition} (default); daemons {cluster.pids}")
        print(f"export SLURM_CONF={cluster.conf} PATH={cluster.bin}:$PATH")
        return 0
    if args.command == "run":
        if not rest:
            parser.error("run needs a command after --")
        with SlurmCluster(args.dir if args.dir != DEFAULT_DIR else None, gpus=args.gpus, keep=args.keep) as c:
            return subprocess.run(rest, env=c.env).returncode
    if not state.exists():
        print(f"no cluster recorded in {args.dir}", file=sys.stderr)
        return 1
    cluster = SlurmCluster.attach(args.dir)
    if args.command == "status":
        alive = {name: cluster._is_ours(name) for name in cluster.pids}
        print(json.dumps({"conf": str(cluster.conf), "pids": cluster.pids, "alive": alive}, indent=1))
        print(cluster.run("sinfo", check=False).stdout, end="")
        return 0 if all(alive.values()) else 1
    cluster.keep = args.keep
    cluster.stop()
    removed = cluster.created_dir and not args.keep
    print(f"stopped; {'removed' if removed else 'kept'} {args.dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
