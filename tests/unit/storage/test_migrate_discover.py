"""Migration discovery: files pair up by version, variants attach to their mode."""

from __future__ import annotations

from pathlib import Path

import pytest

from storage.errors import MigrationError, UnknownModeError
from storage.migrate import discover
from storage.mode import StorageMode, choose_mode


def touch(folder: Path, *names: str) -> None:
    for name in names:
        (folder / name).write_text("SELECT 1;")


def test_variants_attach_to_their_version(tmp_path: Path) -> None:
    """`NNN_x.sql` runs in both modes; `.plain`/`.timescale` only in theirs."""
    touch(tmp_path, "001_core.sql", "001_core.plain.sql", "001_core.timescale.sql", "002_v.sql")
    found = discover(tmp_path)
    assert [(m.version, m.name) for m in found] == [("001", "core"), ("002", "v")]
    assert [p.name for p in found[0].files_for(StorageMode.PLAIN)] == [
        "001_core.sql",
        "001_core.plain.sql",
    ]
    assert [p.name for p in found[0].files_for(StorageMode.TIMESCALE)] == [
        "001_core.sql",
        "001_core.timescale.sql",
    ]
    assert [p.name for p in found[1].files_for(StorageMode.TIMESCALE)] == ["002_v.sql"]


def test_variant_without_common_file(tmp_path: Path) -> None:
    """A version may exist only as mode variants."""
    touch(tmp_path, "003_rollup.plain.sql", "003_rollup.timescale.sql")
    (only,) = discover(tmp_path)
    assert [p.name for p in only.files_for(StorageMode.PLAIN)] == ["003_rollup.plain.sql"]


def test_badly_named_file_refused(tmp_path: Path) -> None:
    """A file that does not follow NNN_name[.mode].sql is an error that names the rule."""
    touch(tmp_path, "1_core.sql")
    with pytest.raises(MigrationError, match="NNN_name"):
        discover(tmp_path)


def test_one_version_two_names_refused(tmp_path: Path) -> None:
    """Two migrations cannot share a version number."""
    touch(tmp_path, "001_a.sql", "001_b.sql")
    with pytest.raises(MigrationError, match="two names"):
        discover(tmp_path)


def test_the_shipped_migrations_are_well_formed() -> None:
    """The project's own migrations are numbered without gaps in names and each has SQL."""
    found = discover()
    assert found[0].version == "001"
    assert all(m.files_for(StorageMode.PLAIN) for m in found)


def test_unknown_mode_refused() -> None:
    """Asking for a mode that does not exist says which ones do."""
    with pytest.raises(UnknownModeError, match="auto, plain or timescale"):
        choose_mode(None, "influx")  # type: ignore[arg-type]
