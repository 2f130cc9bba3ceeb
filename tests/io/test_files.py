"""Atomic writes: an interrupt or a kill mid-write leaves the old file or the new one, never part of one, and no
temp file; unwritable targets are clean errors naming the file."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from planner.errors import OutputError
from planner.io.files import write_atomic
from tests.conftest import WORKLOADS

WRITER = """
import sys
from planner.io.files import write_atomic
target, n = sys.argv[1], 0
print("ready", flush=True)
while True:
    n += 1
    write_atomic(target, (str(n % 10) * 20_000_000).encode())  # 20 MB a write
"""


def temps(folder: Path) -> list[Path]:
    return [p for p in folder.iterdir() if p.name.endswith(".tmp")]


def whole(path: Path) -> bool:
    """The file is one complete version: 20 MB of one digit, or the old text."""
    data = path.read_bytes()
    return data == b"old" or (len(data) == 20_000_000 and data == data[:1] * len(data))


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGKILL])
@pytest.mark.parametrize("delay", [0.05, 0.3, 0.7])
def test_a_signal_mid_write_leaves_a_whole_file(tmp_path, sig, delay):
    target = tmp_path / "out.bin"
    target.write_bytes(b"old")
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(target)], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    assert proc.stdout.readline().strip() == b"ready"
    time.sleep(delay)
    proc.send_signal(sig)
    proc.wait(timeout=30)
    assert whole(target)
    if sig == signal.SIGINT:
        assert temps(tmp_path) == []
    else:  # a killed writer cannot clean up; its temp file (if any) goes with the next write of the same file
        write_atomic(target, b"old")
        assert temps(tmp_path) == [] and target.read_bytes() == b"old"


def test_interrupting_a_long_sweep_keeps_the_old_output(tmp_path):
    out = tmp_path / "sweep.csv"
    out.write_text("old\n")
    planner = Path(sys.executable).with_name("planner")
    proc = subprocess.Popen([str(planner), "sweep", str(WORKLOADS / "chat.yaml"), "--param", "slo.tpot_ms=20:80:2",
                             "--jobs", "1", "--format", "csv", "-o", str(out)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    time.sleep(2.0)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode != 0 and b"Traceback" not in err
    assert out.read_text() == "old\n" and temps(tmp_path) == []


def test_unwritable_targets_are_errors_naming_the_file(tmp_path):
    (tmp_path / "file").write_text("x")
    cases = [(tmp_path / "file" / "plan.json", "is a file, not a folder"),
             (Path("/proc/planner-test.json"), "cannot write"),
             (tmp_path / ("a" * 300 + ".json"), "File name too long"),
             (tmp_path, "is a directory")]
    for path, message in cases:
        with pytest.raises(OutputError) as err:
            write_atomic(path, "{}")
        assert str(path) in str(err.value) and message in str(err.value)
    assert temps(tmp_path) == []


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_read_only_folder(tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o500)
    with pytest.raises(OutputError, match="Permission denied"):
        write_atomic(folder / "plan.json", "{}")


def test_permissions_follow_the_umask(tmp_path):
    write_atomic(tmp_path / "p.json", "{}")
    umask = os.umask(0)
    os.umask(umask)
    assert (tmp_path / "p.json").stat().st_mode & 0o777 == 0o666 & ~umask
