"""MultiWorkerMirroredStrategy: two worker processes on 127.0.0.1 train a few steps together."""

import json
import os
import signal
import socket
import subprocess
import sys
import time

import numpy as np
import pytest
from PIL import Image
from test_distribution import CASES

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


def start_workers(out, epochs, *extra, app=("toy", "train", "--batch-size", "32")):
    cluster = {"worker": [f"127.0.0.1:{port}" for port in free_ports(2)]}
    command = [sys.executable, "-m", "ganapps.cli", *map(str, app), "--strategy", "multi-worker", "--epochs",
               str(epochs), "--steps", "5", "--out", str(out), *extra]
    return [subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={
        **os.environ, "TF_CPP_MIN_LOG_LEVEL": "3",
        "TF_CONFIG": json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}})})
        for index in range(2)]


def finish(workers, timeout=300):
    results = []
    try:
        for worker in workers:
            _, stderr = worker.communicate(timeout=timeout)
            results.append((worker.returncode, stderr))
    finally:
        for worker in workers:
            worker.kill()
    return results


def test_a_killed_worker_then_both_resumed_end_with_the_uninterrupted_weights(tmp_path):
    """Worker 1 dies mid-run (SIGKILL); the job is restarted, both workers with --resume, from the chief's last
    checkpoint: the final weights are those of a run that was never interrupted."""
    for code, stderr in finish(start_workers(tmp_path / "whole", 4)):
        assert code == 0, stderr[-3000:]
    out = tmp_path / "faulty"
    workers = start_workers(out, 4)
    checkpoint = RunCheckpoint(out / "checkpoints")
    deadline = time.time() + 240
    while not (checkpoint.exists() and checkpoint.saved_epoch() >= 1) and time.time() < deadline:
        assert all(w.poll() is None for w in workers), "a worker ended before the fault"
        time.sleep(0.05)
    workers[1].send_signal(signal.SIGKILL)
    workers[1].wait()
    try:  # the chief either notices the lost peer and stops, or waits on it: the restart ends it either way
        workers[0].wait(timeout=20)
    except subprocess.TimeoutExpired:
        workers[0].kill()
    kept = checkpoint.saved_epoch()
    assert 1 <= kept < 4
    for code, stderr in finish(start_workers(out, 4, "--resume")):
        assert code == 0, stderr[-3000:]
    assert checkpoint.saved_epoch() == 4
    with np.load(tmp_path / "whole" / "checkpoints" / "checkpoint.npz") as whole, np.load(checkpoint.path) as resumed:
        assert sorted(whole) == sorted(resumed)
        for key in whole:
            np.testing.assert_allclose(resumed[key], whole[key], atol=1e-6, err_msg=key)


# What this found, not fixed yet (the distribution issue): under MultiWorkerMirroredStrategy, fit on batches
# that are tuples raises "Attempt to convert a value (PerReplica ...) to a Tensor"; cgan's text and image+metadata
# commands do TensorFlow work (the caption embedding, the image set) before the strategy exists, which multi-worker
# refuses ("Collective ops must be configured at program startup"). toy and dcgan pass.
PER_REPLICA_BATCHES = "fit raises on a PerReplica batch under multi-worker"
STRATEGY_TOO_LATE = "TensorFlow is used before MultiWorkerMirroredStrategy is created"
FAILS_UNDER_MULTI_WORKER = {
    "superres": PER_REPLICA_BATCHES, "cyclegan+pool": PER_REPLICA_BATCHES, "cgan label": PER_REPLICA_BATCHES,
    "cgan metadata acgan": PER_REPLICA_BATCHES, "cgan semisup": PER_REPLICA_BATCHES, "nextframe": PER_REPLICA_BATCHES,
    "cgan text": STRATEGY_TOO_LATE, "cgan image+metadata": STRATEGY_TOO_LATE,
}


@pytest.mark.slow
@pytest.mark.parametrize("name", [
    pytest.param(name, marks=[pytest.mark.xfail(strict=True, reason=FAILS_UNDER_MULTI_WORKER[name])]
                 if name in FAILS_UNDER_MULTI_WORKER else []) for name in CASES if name != "toy"])
def test_every_app_trains_on_two_workers(name, tmp_path):
    """Each app's train command (each cgan condition, semisup) under multi-worker, two processes on 127.0.0.1."""
    args = [str(tmp_path / "hr") if a == "{images}" else a for a in CASES[name]]
    if "{images}" in CASES[name]:
        (tmp_path / "hr").mkdir()
        for k in range(3):
            Image.fromarray(np.random.default_rng(k).integers(0, 256, (48, 48, 3), dtype=np.uint8)).save(
                tmp_path / "hr" / f"{k}.png")
    out = tmp_path / "run"
    for code, stderr in finish(start_workers(out, 1, app=args), timeout=600):
        assert code == 0, stderr[-3000:]
    assert json.loads((out / "config.json").read_text())["replicas"] == 2
    assert RunCheckpoint(out / "checkpoints").saved_epoch() == 1
