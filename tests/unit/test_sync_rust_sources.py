"""scripts/sync-rust-sources: the stable build copy changes exactly where the sources did."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "sync-rust-sources"


def sync(src: Path, dest: Path) -> str:
    done = subprocess.run(
        [sys.executable, str(SCRIPT), str(src), str(dest)],
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout


def test_only_changed_files_are_rewritten(tmp_path: Path) -> None:
    src, dest = tmp_path / "src", tmp_path / "build"
    (src / "pallet-decentralml" / "src").mkdir(parents=True)
    (src / "node-config" / "node" / "target").mkdir(parents=True)
    (src / "Cargo.toml").write_text("[workspace]\n")
    (src / "Cargo.lock").write_text("# lock\n")
    lib = src / "pallet-decentralml" / "src" / "lib.rs"
    lib.write_text("fn a() {}\n")
    main = src / "node-config" / "node" / "main.rs"
    main.write_text("fn main() {}\n")
    (src / "node-config" / "README.md").write_text("docs\n")
    (src / "node-config" / "node" / "target" / "junk").write_text("x")
    (src / "tests").mkdir()
    (src / "tests" / "test.py").write_text("not rust\n")

    assert "4 file(s) changed" in sync(src, dest)
    assert not (dest / "node-config" / "README.md").exists()  # documentation is not built
    assert not (dest / "node-config" / "node" / "target").exists()
    assert not (dest / "tests").exists()

    old = 1_000_000_000
    for path in dest.rglob("*"):
        if path.is_file():
            os.utime(path, (old, old))
    lib.write_text("fn b() {}\n")
    (src / "Cargo.lock").unlink()
    out = sync(src, dest)
    assert "updated pallet-decentralml/src/lib.rs" in out
    assert "removed Cargo.lock" in out
    assert "2 file(s) changed" in out
    assert (dest / "pallet-decentralml" / "src" / "lib.rs").read_text() == "fn b() {}\n"
    assert (dest / "node-config" / "node" / "main.rs").stat().st_mtime == old  # untouched
    assert "0 file(s) changed" in sync(src, dest)


def test_refuses_a_directory_without_a_workspace(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(SCRIPT), str(tmp_path), str(tmp_path / "out")],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 2
    assert "no Cargo.toml" in done.stderr
