"""The wheel installs apps/ as ganapps.apps and ships saved_models/ (inference from a non-editable install)."""

import subprocess
import sys
import zipfile

from conftest import REPO


def test_wheel_contents(tmp_path):
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                            "-w", str(tmp_path), str(REPO)], capture_output=True, text=True, timeout=300)
    assert built.returncode == 0, built.stderr
    wheel = next(tmp_path.glob("ganapps-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "ganapps/apps/toy/cli.py" in names
    assert "ganapps/core/gan.py" in names
    assert "ganapps/saved_models/__init__.py" in names
    shipped = [p.relative_to(REPO).as_posix() for p in (REPO / "saved_models").rglob("*") if p.is_file()
               and "__pycache__" not in p.parts]
    for path in shipped:
        assert "ganapps/" + path in names, path
    assert not any(name.startswith("apps/") for name in names)
    entry = [n for n in names if n.endswith("entry_points.txt")][0]
    assert "ganapps = ganapps.cli:main" in zipfile.ZipFile(wheel).read(entry).decode()
