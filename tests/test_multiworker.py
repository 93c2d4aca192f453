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


def start_workers(out, epochs, *extra, app=("toy", "train", "--batch-size", "32"), outs=None):
    """Two workers of one cluster on 127.0.0.1 running `app` into `out` (or worker k into `outs[k]`)."""
    cluster = {"worker": [f"127.0.0.1:{port}" for port in free_ports(2)]}
    outs = outs or [out, out]
    return [subprocess.Popen(
        [sys.executable, "-m", "ganapps.cli", *map(str, app), "--strategy", "multi-worker", "--epochs", str(epochs),
         "--steps", "5", "--out", str(outs[index]), *map(str, extra)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={
            **os.environ, "TF_CPP_MIN_LOG_LEVEL": "3",
            "TF_CONFIG": json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}})})
        for index in range(2)]


def files_in(folder):
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*")) if folder.exists() else []


def test_two_workers_train_and_only_the_chief_writes(tmp_path):
    """Worker 1 is given a run directory of its own: it trains its half of every step but writes nothing there
    (no config, checkpoint, samples, plot, logs or export), while the chief's run is complete."""
    out = tmp_path / "run0"
    for code, stderr in finish(start_workers(None, 2, outs=[out, tmp_path / "run1"])):
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
    assert {"plot.png", "metrics.json", "samples/epoch_0002.png", "history.csv"} <= set(files_in(out))
    assert files_in(tmp_path / "run1") == []


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


def test_two_workers_run_several_steps_per_call_as_single_steps(tmp_path):
    """10 steps per call into the graph (the default for 10-step epochs) on two workers give the weights of one
    step per call."""
    for spe in (1, 0):
        for code, stderr in finish(start_workers(tmp_path / f"spe{spe}", 2, "--steps", 10,
                                                 "--steps-per-execution", spe)):
            assert code == 0, stderr[-3000:]
    with np.load(tmp_path / "spe1" / "checkpoints" / "checkpoint.npz") as one, \
            np.load(tmp_path / "spe0" / "checkpoints" / "checkpoint.npz") as auto:
        assert int(one["v0"]) == int(auto["v0"]) == 20  # the step counter
        for key in one:
            np.testing.assert_allclose(auto[key], one[key], atol=1e-6, err_msg=key)


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


@pytest.mark.slow
@pytest.mark.parametrize("name", [name for name in CASES if name != "toy"])
def test_every_app_trains_on_two_workers(name, tmp_path):
    """Each app's train command (each cgan condition, semisup) under multi-worker, two processes on 127.0.0.1;
    worker 1, given a run directory of its own, writes nothing."""
    args = [str(tmp_path / "hr") if a == "{images}" else a for a in CASES[name]]
    if "{images}" in CASES[name]:
        (tmp_path / "hr").mkdir()
        for k in range(3):
            Image.fromarray(np.random.default_rng(k).integers(0, 256, (48, 48, 3), dtype=np.uint8)).save(
                tmp_path / "hr" / f"{k}.png")
    out = tmp_path / "run"
    for code, stderr in finish(start_workers(None, 1, app=args, outs=[out, tmp_path / "worker1"]), timeout=600):
        assert code == 0, stderr[-3000:]
    assert json.loads((out / "config.json").read_text())["replicas"] == 2
    assert RunCheckpoint(out / "checkpoints").saved_epoch() == 1
    assert any(name.endswith("saved_model.pb") for name in files_in(out / "export"))
    assert files_in(tmp_path / "worker1") == []  # only the chief writes
