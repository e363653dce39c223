"""Checkpoint folders appear whole or not at all; a resume picks the newest complete one."""

from __future__ import annotations

from pathlib import Path

import pytest

from inference.training.checkpoints import MARKER, latest_checkpoint, write_checkpoint


@pytest.fixture
def root(tmp_path) -> Path:
    return tmp_path / "checkpoints"


def _write(payload: str):
    def write(folder: Path) -> None:
        (folder / "weights.bin").write_text(payload)

    return write


def test_a_written_checkpoint_is_complete_and_the_newest_is_found(root):
    write_checkpoint(root, 2, _write("two"))
    write_checkpoint(root, 4, _write("four"))
    latest = latest_checkpoint(root)
    assert latest.step == 4 and (latest.path / "weights.bin").read_text() == "four"
    assert (latest.path / MARKER).is_file()


def test_folders_without_the_marker_or_still_temporary_are_never_resumed_from(root):
    write_checkpoint(root, 2, _write("two"))
    (root / "step-00000006").mkdir()  # renamed by hand or copied half-way: no marker
    (root / ".tmp-step-00000008-dead").mkdir()  # a worker killed while writing
    assert latest_checkpoint(root).step == 2


def test_a_failed_write_leaves_no_folder_behind(root):
    def broken(folder: Path) -> None:
        (folder / "weights.bin").write_text("half")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        write_checkpoint(root, 2, broken)
    assert list(root.iterdir()) == [] and latest_checkpoint(root) is None


def test_only_the_two_newest_checkpoints_are_kept_and_dead_writers_are_cleaned(root):
    (root / ".tmp-step-00000001-dead").mkdir(parents=True)
    for step in (2, 4, 6):
        write_checkpoint(root, step, _write(str(step)))
    assert sorted(p.name for p in root.iterdir()) == ["step-00000004", "step-00000006"]


def test_writing_the_same_step_again_after_a_resume_replaces_it(root):
    write_checkpoint(root, 2, _write("first"))
    write_checkpoint(root, 2, _write("again"))
    assert (latest_checkpoint(root).path / "weights.bin").read_text() == "again"


def test_an_empty_or_missing_folder_has_no_checkpoint(root):
    assert latest_checkpoint(root) is None
    root.mkdir()
    assert latest_checkpoint(root) is None
