"""deploy/systemd: every unit passes `systemd-analyze verify` with no warning (an unknown or
misspelt directive is only a warning there, so any output fails the test), every `pts …`
command and option in an ExecStart exists in the CLI, and every PTS_* name the units and the
environment template use is a setting of pts/settings.py."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from pts.cli import cli
from pts.settings import PROJECT_ROOT, Settings

UNITS_DIR = PROJECT_ROOT / "deploy" / "systemd"
INSTALLED_PTS = "/opt/pts/venv/bin/pts"
PTS = Path(sys.executable).parent / "pts"
UNITS = sorted(UNITS_DIR.glob("*.service"))
EXPECTED_UNITS = {
    "pts-bridge.service",
    "pts-das-intake.service",
    "pts-das-pull@.service",
    "pts-gateway@.service",
    "pts-stream-worker.service",
    "pts-web.service",
}


def instance_name(unit: Path) -> str:
    """A template `x@.service` is verified as the instance `x@site-a.service`."""
    return unit.name.replace("@.service", "@site-a.service")


def exec_start(unit: Path) -> list[str]:
    lines = [
        line.split("=", 1)[1]
        for line in unit.read_text().splitlines()
        if line.startswith("ExecStart=")
    ]
    assert len(lines) == 1, f"{unit.name}: one ExecStart expected, found {len(lines)}"
    return shlex.split(lines[0])


def pts_command(unit: Path) -> tuple[list[str], list[str]]:
    """The `pts` subcommand (group, command) an ExecStart runs and the options it passes."""
    argv = exec_start(unit)
    assert argv[0] == INSTALLED_PTS, f"{unit.name}: ExecStart runs {argv[0]}"
    words = [word for word in argv[1:] if not word.startswith("-")]
    return words[:2], [word for word in argv[1:] if word.startswith("--")]


def test_the_units_of_every_long_running_process_are_there() -> None:
    assert {unit.name for unit in UNITS} == EXPECTED_UNITS


@pytest.mark.parametrize("unit", UNITS, ids=lambda unit: unit.name)
def test_unit_passes_systemd_analyze_verify_without_a_warning(unit: Path, tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze") or "/usr/bin/systemd-analyze"
    text = unit.read_text()
    assert INSTALLED_PTS in text
    # verify wants the command to exist; /bin/true stands in for the installed venv's pts
    copy = tmp_path / instance_name(unit)
    copy.write_text(text.replace(INSTALLED_PTS, "/bin/true"))
    result = subprocess.run(
        [analyze, "verify", str(copy)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")


def test_every_pts_command_and_option_in_an_exec_start_exists() -> None:
    commands = {unit.name: pts_command(unit) for unit in UNITS}
    assert {name: words for name, (words, _) in commands.items()} == {
        "pts-bridge.service": ["bridge", "run"],
        "pts-das-intake.service": ["das", "serve"],
        "pts-das-pull@.service": ["das", "pull"],
        "pts-gateway@.service": ["gateway", "run"],
        "pts-stream-worker.service": ["stream", "worker"],
        "pts-web.service": ["web", "serve"],
    }
    for name, (words, options) in commands.items():
        # the console script's own group, in this process (a fresh interpreter per command
        # costs 1-2 s of imports each on a shared machine)
        result = CliRunner().invoke(cli, [*words, "--help"], prog_name="pts")
        assert result.exit_code == 0, f"{name}: {result.output}"
        offered = set(re.findall(r"--[a-z][a-z-]*", result.output))
        assert set(options) <= offered, f"{name}: `pts {' '.join(words)}` has no {options}"


def test_the_installed_pts_entry_point_runs_a_unit_command() -> None:
    result = subprocess.run(
        [str(PTS), "gateway", "run", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert (result.returncode, result.stderr) == (0, "")
    assert "--config" in result.stdout


def test_every_pts_variable_in_the_units_and_the_template_is_a_setting() -> None:
    settings = {f"PTS_{field.upper()}" for field in Settings.model_fields}
    used = {
        name
        for path in [*UNITS, UNITS_DIR / "pts.env.example"]
        for name in re.findall(r"\bPTS_[A-Z0-9_]+", path.read_text())
    }
    assert used - settings == set()
    assert {
        "PTS_DATABASE_URL",
        "PTS_STREAM_DATABASE_URL",
        "PTS_WEB_DATABASE_URL",
        "PTS_INTAKE_DATABASE_URL",
        "PTS_KAFKA_USERNAME",
        "PTS_KAFKA_PASSWORD_FILE",
        "PTS_MQTT_PASSWORD_FILE",
    } <= used


def test_the_template_names_the_kafka_principal_of_every_unit() -> None:
    template = (UNITS_DIR / "pts.env.example").read_text()
    for unit in UNITS:
        principal = re.search(r"PTS_KAFKA_USERNAME=(\S+)", unit.read_text())
        if principal is None:  # the gateway speaks MQTT only
            assert unit.name == "pts-gateway@.service"
            continue
        assert re.search(rf"{re.escape(unit.name)}\s+PTS_KAFKA_USERNAME={principal[1]}\n", template)
        assert f"PTS_KAFKA_PASSWORD_FILE=/etc/pts/secrets/kafka-{principal[1]}" in unit.read_text()


def test_every_unit_is_sandboxed() -> None:
    for unit in UNITS:
        lines = set(unit.read_text().splitlines())
        assert {
            "NoNewPrivileges=yes",
            "ProtectSystem=strict",
            "PrivateTmp=yes",
            "User=pts",
        } <= lines, unit.name
