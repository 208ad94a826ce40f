"""A real single-node Slurm cluster on 127.0.0.1, for the workflow's Slurm test and benchmark.

Debian's `slurm-wlm` and `munge` run as three daemons (munged, slurmctld, slurmd) whose
configuration, sockets, state and logs all live under one folder; nothing under /etc is
touched. Accounting is off, as on many small clusters, so only `squeue` reports job states.

    with SlurmCluster(tmp_path) as cluster:
        subprocess.run(["sbatch", "--wrap", "hostname"], env=cluster.env)

Needs root (slurmd starts job steps as the submitting user) and the binaries below.
"""

import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

DAEMONS = ("munged", "mungekey", "slurmctld", "slurmd")
CLIENTS = ("sbatch", "srun", "squeue", "sinfo", "scancel")
SEARCH_PATH = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/usr/local/sbin"])


def missing_slurm():
    """Why a Slurm cluster cannot start here, or None: the binaries absent, or not root."""
    absent = [name for name in DAEMONS + CLIENTS if shutil.which(name, path=SEARCH_PATH) is None]
    if absent:
        return f"Slurm is not installed ({', '.join(absent)} missing): apt-get install slurm-wlm munge"
    if os.geteuid() != 0:
        return "slurmd must run as root to start jobs as the submitting user"
    return None


def _free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _node_line():
    """This machine as slurmd sees it ("NodeName=vm CPUs=2 ... RealMemory=24105")."""
    found = subprocess.run([shutil.which("slurmd", path=SEARCH_PATH), "-C"], capture_output=True, text=True, check=True)
    return found.stdout.splitlines()[0]


def node_resources():
    """(CPUs, RealMemory in MB) of this machine's node."""
    fields = dict(item.split("=", 1) for item in _node_line().split())
    return int(fields["CPUs"]), int(fields["RealMemory"])


class SlurmCluster:
    """munged + slurmctld + slurmd under `folder`; stopped by PID on exit."""

    def __init__(self, folder):
        self.folder = Path(folder)
        self.conf = self.folder / "slurm.conf"
        self.pid_files = [self.folder / name for name in ("slurmd.pid", "slurmctld.pid", "munged.pid")]
        self.bin = self.folder / "bin"
        self.env = {**os.environ, "SLURM_CONF": str(self.conf), "PATH": os.pathsep.join([str(self.bin), SEARCH_PATH])}

    def _write_srun(self):
        """An `srun` that knows this cluster's config. Inside a job, the Slurm executor plugin's job
        step drops every SLURM_* variable but a few before it calls srun, SLURM_CONF included; a
        real cluster keeps its config at /etc/slurm, where srun looks without being told."""
        self.bin.mkdir(parents=True, exist_ok=True)
        srun = self.bin / "srun"
        srun.write_text(f'#!/bin/sh\nSLURM_CONF={self.conf} exec {shutil.which("srun", path=SEARCH_PATH)} "$@"\n')
        srun.chmod(0o755)

    def _write_config(self):
        folder = self.folder
        self._write_srun()
        for sub in ("state", "spool"):
            (folder / sub).mkdir(parents=True, exist_ok=True)
        (folder / "plugstack.conf").write_text("")
        settings = {
            "ClusterName": "quantfairness",
            "SlurmctldHost": f"{socket.gethostname().split('.')[0]}(127.0.0.1)",
            "SlurmUser": "root",
            "SlurmdUser": "root",
            "AuthType": "auth/munge",
            "AuthInfo": f"socket={folder / 'munge.socket'}",
            "CredType": "cred/munge",
            "SlurmctldPort": _free_port(),
            "SlurmdPort": _free_port(),
            "StateSaveLocation": folder / "state",
            "SlurmdSpoolDir": folder / "spool",
            "SlurmctldPidFile": folder / "slurmctld.pid",
            "SlurmdPidFile": folder / "slurmd.pid",
            "SlurmctldLogFile": folder / "slurmctld.log",
            "SlurmdLogFile": folder / "slurmd.log",
            "PlugStackConfig": folder / "plugstack.conf",
            "ProctrackType": "proctrack/linuxproc",
            "TaskPlugin": "task/none",
            "SchedulerType": "sched/backfill",
            "SelectType": "select/cons_tres",
            "SelectTypeParameters": "CR_Core",
            "AccountingStorageType": "accounting_storage/none",
            "JobAcctGatherType": "jobacct_gather/none",
            "JobCompType": "jobcomp/none",
            "MpiDefault": "none",
            "ReturnToService": 2,
            # Finished jobs stay visible to squeue (the only status source without accounting) for 2 hours.
            "MinJobAge": 7200,
        }
        node = _node_line()
        lines = [f"{key}={value}" for key, value in settings.items()]
        lines.append(f"{node} NodeAddr=127.0.0.1 State=UNKNOWN")
        lines.append(f"PartitionName=local Nodes={node.split()[0].removeprefix('NodeName=')} Default=YES State=UP")
        self.conf.write_text("\n".join(lines) + "\n")

    def _run(self, *command):
        subprocess.run(
            [shutil.which(command[0], path=SEARCH_PATH), *command[1:]],
            env=self.env,
            check=True,
            capture_output=True,
            text=True,
        )

    def start(self):
        self._write_config()
        key = self.folder / "munge.key"
        self._run("mungekey", "--create", f"--keyfile={key}")
        self._run(
            "munged",
            f"--socket={self.folder / 'munge.socket'}",
            f"--key-file={key}",
            f"--log-file={self.folder / 'munged.log'}",
            f"--pid-file={self.folder / 'munged.pid'}",
            f"--seed-file={self.folder / 'munged.seed'}",
            "--force",
        )
        self._run("slurmctld", "-f", str(self.conf))
        self._run("slurmd", "-f", str(self.conf))
        self._wait_until_idle()
        return self

    def _wait_until_idle(self, timeout=60):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            state = subprocess.run(["sinfo", "-h", "-o", "%T"], env=self.env, capture_output=True, text=True)
            if state.stdout.strip() == "idle":
                return
            time.sleep(0.5)
        raise RuntimeError(f"the Slurm node did not become idle in {timeout} s:\n{self.log_tail()}")

    def jobs(self):
        """{job id: (state, memory asked for, CPUs)} of every job the controller still remembers
        (MinJobAge), e.g. {"7": ("COMPLETED", "4000M", 2)}."""
        listed = subprocess.run(
            ["squeue", "-h", "-t", "all", "-o", "%i %T %m %C"], env=self.env, capture_output=True, text=True, check=True
        )
        rows = (line.split() for line in listed.stdout.splitlines())
        return {job: (state, memory, int(cpus)) for job, state, memory, cpus in rows}

    def log_tail(self, lines=20):
        tails = []
        for name in ("slurmctld.log", "slurmd.log", "munged.log"):
            path = self.folder / name
            if path.exists():
                tails.append(f"--- {name}\n" + "\n".join(path.read_text().splitlines()[-lines:]))
        return "\n".join(tails)

    def stop(self):
        for pid_file in self.pid_files:
            if not pid_file.exists():
                continue
            pid = int(pid_file.read_text().split()[0])
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                continue
            for _ in range(100):
                try:
                    os.kill(pid, 0)
                except ProcessLookupError:
                    break
                time.sleep(0.1)

    def __enter__(self):
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc):
        self.stop()
