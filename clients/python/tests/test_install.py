"""The package installs offline into a fresh virtual environment and imports there."""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import daemon

PACKAGE = Path(__file__).resolve().parents[1]


def test_pip_installs_the_package_offline_into_a_venv(tmp_path):
    # A copy: building writes build/ and *.egg-info beside the sources.
    source = tmp_path / "src"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(PACKAGE / name, source / name)
    shutil.copytree(PACKAGE / "tollgate", source / "tollgate",
                    ignore=shutil.ignore_patterns("__pycache__"))
    venv = tmp_path / "venv"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env.update(PIP_DISABLE_PIP_VERSION_CHECK="1", PIP_NO_INPUT="1")
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)],
                   check=True, env=env, timeout=daemon.scaled(120))
    done = subprocess.run([str(venv / "bin" / "pip"), "install", "--no-build-isolation",
                           "--no-index", str(source)], capture_output=True, text=True,
                          env=env, timeout=daemon.scaled(120))
    assert done.returncode == 0, done.stdout + done.stderr
    probe = ("import tollgate, tollgate.compat, pathlib; "
             "p = pathlib.Path(tollgate.__file__).parent; "
             "print(p); print((p / 'py.typed').exists()); print(tollgate.Client.__name__)")
    done = subprocess.run([str(venv / "bin" / "python"), "-c", probe], capture_output=True,
                          text=True, env=env, cwd=tmp_path, timeout=daemon.scaled(60))
    assert done.returncode == 0, done.stderr
    where, typed, name = done.stdout.split()
    assert Path(where).is_relative_to(venv) and typed == "True" and name == "Client"
