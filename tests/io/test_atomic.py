"""Atomic writes: the destination is either the old file or the complete new one, never a mix."""

from __future__ import annotations

import os
import stat

import pytest

from boltzkit.io.atomic import atomic_path, write_bytes_atomic, write_text_atomic


def leftovers(folder) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


def test_write_creates_parents_and_replaces(tmp_path):
    target = tmp_path / "a" / "b" / "file.txt"
    write_text_atomic(target, "first")
    assert target.read_text() == "first"
    write_bytes_atomic(target, b"second")
    assert target.read_bytes() == b"second"
    assert leftovers(target.parent) == []


def test_error_inside_the_block_leaves_the_old_file(tmp_path):
    target = tmp_path / "file.bin"
    target.write_bytes(b"old content")
    with pytest.raises(RuntimeError, match="boom"):
        with atomic_path(target) as tmp:
            tmp.write_bytes(b"half-writ")
            assert tmp.parent == target.parent and tmp != target  # same filesystem: atomic rename
            raise RuntimeError("boom")
    assert target.read_bytes() == b"old content"
    assert leftovers(tmp_path) == []


def test_error_when_there_was_no_file_leaves_nothing(tmp_path):
    target = tmp_path / "new.bin"
    with pytest.raises(KeyboardInterrupt):
        with atomic_path(target) as tmp:
            tmp.write_bytes(b"partial")
            raise KeyboardInterrupt  # not an Exception: the cleanup must still run
    assert not target.exists()
    assert leftovers(tmp_path) == []


def test_copy_existing_starts_from_the_current_content(tmp_path):
    target = tmp_path / "log.txt"
    target.write_text("line 1\n")
    with atomic_path(target, copy_existing=True) as tmp:
        assert tmp.read_text() == "line 1\n"
        with open(tmp, "a") as f:
            f.write("line 2\n")
        assert target.read_text() == "line 1\n"  # not visible before the block ends
    assert target.read_text() == "line 1\nline 2\n"
    # without copy_existing the temporary file starts empty
    with atomic_path(target) as tmp:
        assert tmp.read_bytes() == b""
        tmp.write_text("fresh")
    assert target.read_text() == "fresh"


def test_atomic_write_gives_normal_file_permissions(tmp_path):
    """tempfile.mkstemp creates 0600 files; a run file or report must get the mode that
    open(path, "w") would give (0666 minus the umask), also when it replaces a file."""
    umask = os.umask(0o022)
    try:
        fresh = tmp_path / "fresh.txt"
        write_text_atomic(fresh, "x")
        assert stat.S_IMODE(fresh.stat().st_mode) == 0o644
        with atomic_path(fresh, copy_existing=True) as tmp:
            tmp.write_text("y")
        assert stat.S_IMODE(fresh.stat().st_mode) == 0o644
    finally:
        os.umask(umask)
