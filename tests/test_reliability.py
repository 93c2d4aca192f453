"""Bad run directories, Ctrl-C, two writers, and faults injected into checkpoint and export writes.

Each is checked through the console entry point as a user meets it: one line on stderr, the documented exit code
(2 bad input, 130 interrupted, 0 done), no traceback, and no lost work.
"""

import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
from cli_helpers import main_error

from ganapps.core.callbacks import RunCheckpoint
from ganapps.core.errors import interrupted_by_user

TINY = ["toy", "train", "--dataset", "ring", "--epochs", "3", "--steps", "20", "--batch-size", "64",
        "--strategy", "default"]
# As a user's shell: nothing set to quiet TensorFlow; the CLI itself must keep its start-up notices away.
ENV = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}


def ganapps(*args, prelude: str = "", **env) -> subprocess.Popen:
    """`ganapps ARGS` in a fresh process, after `prelude` (Python run first: a fault to inject)."""
    code = prelude + "\nimport sys\nfrom ganapps.cli import main\nsys.argv = ['ganapps'] + sys.argv[1:]\nmain()\n"
    return subprocess.Popen([sys.executable, "-c", code, *map(str, args)], env={**ENV, **env},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finish(process: subprocess.Popen, timeout: int = 300) -> tuple[int, str, str]:
    out, err = process.communicate(timeout=timeout)
    return process.returncode, out, err


def one_error_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


def wait_for(condition, process: subprocess.Popen, seconds: float = 240) -> None:
    deadline = time.time() + seconds
    while not condition() and time.time() < deadline and process.poll() is None:
        time.sleep(0.1)
    assert condition(), f"never happened; the process ended with {process.poll()}"


def test_bad_run_directories_are_one_line_errors(tmp_path, monkeypatch, capsys):
    afile = tmp_path / "f.txt"
    afile.write_text("k\n")
    assert "--out" in main_error(monkeypatch, capsys, *TINY, "--out", afile) and "is a file" in \
        main_error(monkeypatch, capsys, *TINY, "--out", afile)
    assert "cannot create the run directory" in main_error(monkeypatch, capsys, *TINY, "--out", "/proc/x/run")
    line = main_error(monkeypatch, capsys, *TINY, "--out", tmp_path / "nope", "--resume")
    assert line.startswith("Error: --resume") and "no run to continue" in line
    assert not (tmp_path / "nope" / "config.json").exists()


def test_ctrl_c_exits_130_with_where_it_stopped_and_keeps_the_last_epoch(tmp_path):
    out = tmp_path / "run"
    process = ganapps(*TINY, "--epochs", "50", "--out", out)
    checkpoint = RunCheckpoint(out / "checkpoints")
    wait_for(checkpoint.exists, process)
    process.send_signal(signal.SIGINT)
    code, _, err = finish(process)
    assert code == 130, err
    line = one_error_line(err)
    kept = checkpoint.saved_epoch()
    assert line.startswith("Interrupted: ") and f"keeps epoch {kept}" in line and "--resume" in line
    assert 1 <= kept < 50 and not list(out.rglob("*.tmp"))


def test_a_second_writer_is_refused_and_a_stale_lock_taken_over(tmp_path):
    out = tmp_path / "run"
    first = ganapps(*TINY, "--epochs", "50", "--out", out)
    wait_for(lambda: (out / "config.json").exists() and (out / ".lock").read_text().strip(), first)
    code, _, err = finish(ganapps(*TINY, "--out", tmp_path / "run", "--resume"))
    assert code == 2 and f"is being written by process {first.pid}" in one_error_line(err)
    first.kill()
    first.wait()  # killed while holding the lock: its file still names it, the kernel has freed it
    assert str(first.pid) in (out / ".lock").read_text()
    code, _, err = finish(ganapps(*TINY, "--out", out, "--resume", "--epochs", "1"))
    assert code == 0, err


# Kill the process (SIGKILL, no clean-up) at a chosen moment of a write.
KILL_IN_CHECKPOINT_WRITE = textwrap.dedent("""
    import os, signal
    real_fsync = os.fsync
    def fsync(fd):  # the checkpoint of epoch 2 is half on disk, not yet renamed into place
        if "checkpoint.npz" in os.readlink(f"/proc/self/fd/{fd}") and os.path.exists(os.environ["EPOCH_ONE"]):
            os.kill(os.getpid(), signal.SIGKILL)
        real_fsync(fd)
    os.fsync = fsync
""")
KILL_IN_EXPORT = textwrap.dedent("""
    import os, signal, pathlib
    real_rename = pathlib.Path.rename
    def rename(self, target):  # the SavedModel is written in its staging folder, not yet renamed into place
        if ".staging." in self.name:
            os.kill(os.getpid(), signal.SIGKILL)
        return real_rename(self, target)
    pathlib.Path.rename = rename
""")


@pytest.mark.parametrize("fault", ["checkpoint", "export"])
def test_a_run_killed_inside_a_write_resumes_to_the_uninterrupted_weights(tmp_path, fault):
    killed, whole = tmp_path / "killed", tmp_path / "whole"
    marker = killed / "checkpoints" / "checkpoint.npz"
    prelude = KILL_IN_CHECKPOINT_WRITE if fault == "checkpoint" else KILL_IN_EXPORT
    code, _, _ = finish(ganapps(*TINY, "--out", killed, prelude=prelude, EPOCH_ONE=str(marker)))
    assert code == -signal.SIGKILL
    saved = RunCheckpoint(killed / "checkpoints").saved_epoch()
    assert saved == (1 if fault == "checkpoint" else 3)
    assert not (killed / "export" / "toy" / "1").exists()
    code, out, err = finish(ganapps(*TINY, "--out", killed, "--resume"))
    assert code == 0, err
    assert (killed / "export" / "toy" / "1" / "saved_model.pb").exists()
    code, _, err = finish(ganapps(*TINY, "--out", whole))
    assert code == 0, err
    with np.load(killed / "checkpoints" / "checkpoint.npz") as a, np.load(whole / "checkpoints" /
                                                                           "checkpoint.npz") as b:
        assert int(a["epoch"]) == int(b["epoch"]) == 3
        for key in a.files:
            np.testing.assert_allclose(a[key], b[key], rtol=1e-5, atol=1e-6)


def test_no_start_up_noise_and_plain_piped_output(tmp_path):
    code, out, err = finish(ganapps("info"))
    assert code == 0 and err == "", err
    code, out, err = finish(ganapps(*TINY, "--epochs", "2", "--out", tmp_path / "run"))
    assert code == 0 and "cudart" not in err and "absl" not in err and "cpu_feature" not in err, err
    assert "\x1b[" not in out and "\r" not in out and "\b" not in out
    assert f"plot: {tmp_path / 'run' / 'plot.png'}" in out.splitlines()  # no wrapping at 80 columns
    code, out, _ = finish(ganapps("toy", "train", "--help"))
    assert code == 0 and "╭" not in out and "<bool>" not in out and "[default: (0.3333)]" in out


# Inference commands whose model, run or input is not there: refused as the command line is read.
MISSING_PATHS = {
    ("dcgan", "sample", "/nowhere/run"): "/nowhere/run: no such run directory, SavedModel or shipped model",
    ("cyclegan", "translate", "/nowhere/a.png", "/nowhere/run"): "/nowhere/a.png: no such file or folder",
    ("superres", "upscale", "/nowhere/a.png"): "/nowhere/a.png: no such file or folder",
    ("nextframe", "predict", "/nowhere/clip", "/nowhere/run"): "/nowhere/clip: no such file or folder",
    ("cgan", "export", "/nowhere/run"): "/nowhere/run: no such file or folder",
}
SAYS_IF_TENSORFLOW_LOADED = "import atexit, sys\natexit.register(lambda: print('tensorflow' in sys.modules))\n"


@pytest.mark.parametrize("args", list(MISSING_PATHS), ids=lambda args: " ".join(args[:2]))
def test_missing_paths_are_refused_before_tensorflow_loads(args):
    code, out, err = finish(ganapps(*args, prelude=SAYS_IF_TENSORFLOW_LOADED))
    assert code == 2 and MISSING_PATHS[args] in one_error_line(err)
    assert out.strip() == "False"


def test_first_evaluations_say_that_they_train_their_judge_once(tmp_path, monkeypatch, capsys):
    """dcgan's digit classifier and cgan's judge train on first use (tens of seconds): a line says so, and how
    long it took; the cached one loads without a word."""
    import keras
    from ganapps.apps.cgan import evaluators
    from ganapps.apps.dcgan import lab as dcgan_lab

    def tiny(shape, heads):  # stands in for the real training, which takes tens of seconds
        images = keras.Input(shape)
        features = keras.layers.Flatten(name="features")(images)
        return keras.Model(images, {head: keras.layers.Dense(2, name=head)(features) for head in heads})

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.setattr(dcgan_lab.metrics, "train_digit_classifier",
                        lambda images, labels, **_: tiny(images.shape[1:], ["probabilities"]))
    monkeypatch.setattr(evaluators, "train_judge", lambda examples, ranges: tiny(examples.images.shape[1:], ["label"]))
    for load, what in ((dcgan_lab.digit_extractor, "training the digit classifier"),
                       (lambda: evaluators.judge("glyphs", 32, 1), "training the glyphs judge")):
        load()
        lines = capsys.readouterr().err.splitlines()
        assert len(lines) == 2 and lines[0].startswith(what) and lines[0].endswith("...")
        assert lines[1].startswith(what) and " done in " in lines[1]
        load()
        assert capsys.readouterr().err == ""


def test_an_error_raised_while_ctrl_c_unwinds_counts_as_the_interrupt():
    def close_on_the_way_out():
        try:
            raise KeyboardInterrupt
        finally:
            raise OSError("summary writer closed")  # noqa: B012 (what a writer's __exit__ can do)

    with pytest.raises(OSError) as caught:
        close_on_the_way_out()
    assert interrupted_by_user(caught.value) and not interrupted_by_user(OSError("disk full"))
