"""MultiWorkerMirroredStrategy: two worker processes on 127.0.0.1 train a few steps together."""

import json
import os
import socket
import subprocess
import sys

import numpy as np

from ganapps.core.callbacks import RunCheckpoint


def free_ports(count):
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def test_two_workers_train_and_only_the_chief_writes(tmp_path):
    cluster = {"worker": [f"127.0.0.1:{port}" for port in free_ports(2)]}
    out = tmp_path / "run"
    command = [sys.executable, "-m", "ganapps.cli", "toy", "train", "--strategy", "multi-worker", "--epochs", "2",
               "--steps", "5", "--batch-size", "32", "--out", str(out)]
    workers = []
    for index in range(2):
        env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3",
               "TF_CONFIG": json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}})}
        workers.append(subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    results = []
    for worker in workers:
        try:
            stdout, stderr = worker.communicate(timeout=300)
        except subprocess.TimeoutExpired:
            for w in workers:
                w.kill()
            raise
        results.append((worker.returncode, stdout, stderr))
    for code, stdout, stderr in results:
        assert code == 0, stderr[-3000:]
    config = json.loads((out / "config.json").read_text())
    assert config["strategy"] in ("MultiWorkerMirroredStrategy", "CollectiveAllReduceStrategy")
    assert config["replicas"] == 2
    checkpoint = RunCheckpoint(out / "checkpoints")
    assert checkpoint.saved_epoch() == 2
    with np.load(checkpoint.path) as data:
        step_counter = int(data["v0"])
    assert step_counter == 10
    assert (out / "export" / "toy" / "1" / "saved_model.pb").exists()
