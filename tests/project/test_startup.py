"""Production reads every retry setting from the environment, and a bad value stops each process in one line."""

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.project.conftest import BASE_DIR, clean_env, load_settings, settings_error


def test_every_retry_setting_can_come_from_the_environment() -> None:
    variables = {
        "RETRY_LEASE": "7",
        "RETRY_CONCURRENCY": "3",
        "RETRY_EMBEDDED": "off",
        "RETRY_BASE_DELAY": "12.5",
        "RETRY_BACKLOG_ALARM": '{"emails": 60}',
        "RETRY_CHANNEL_PREFIX": "jobs.",
    }
    loaded = load_settings(list(variables), **variables)
    assert loaded == {
        "RETRY_LEASE": 7.0,
        "RETRY_CONCURRENCY": 3,
        "RETRY_EMBEDDED": False,
        "RETRY_BASE_DELAY": 12.5,
        "RETRY_BACKLOG_ALARM": {"emails": 60},
        "RETRY_CHANNEL_PREFIX": "jobs.",
    }


@pytest.mark.parametrize(
    ("variable", "raw", "error"),
    [
        ("RETRY_LEASE", "soon", "RETRY_LEASE='soon' is not a number."),
        ("RETRY_CONCURRENCY", "1.5", "RETRY_CONCURRENCY='1.5' is not a whole number."),
        ("RETRY_JITTER", "nan", "RETRY_JITTER='nan' is not a finite number."),
        ("RETRY_EMBEDDED", "maybe", "RETRY_EMBEDDED='maybe' is not a boolean: use 1/0, true/false, yes/no or on/off."),
        ("RETRY_PERIODIC", "[1]", "RETRY_PERIODIC must be a JSON object, not '[1]'."),
        ("WEBHOOK_ALLOWED_PORTS", "80,http", "WEBHOOK_ALLOWED_PORTS has 'http', which is not a port number from 1 to"),
        ("WEBHOOK_ALLOWED_PORTS", "99999", "WEBHOOK_ALLOWED_PORTS has '99999', which is not a port number from 1 to"),
    ],
)
def test_a_value_that_does_not_read_is_refused_naming_the_variable(variable: str, raw: str, error: str) -> None:
    assert error in settings_error(**{variable: raw})


def test_webhook_ports_read_as_numbers() -> None:
    assert load_settings(["WEBHOOK_ALLOWED_PORTS"], WEBHOOK_ALLOWED_PORTS="443, 8443")["WEBHOOK_ALLOWED_PORTS"] == [
        443,
        8443,
    ]


def run(argv: list[str], variables: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run a Procfile command with the production settings; with a bad configuration it must exit by itself."""
    env = clean_env({"DJANGO_SETTINGS_MODULE": "project.settings", "DATABASE_URL": "sqlite:///:memory:", **variables})
    return subprocess.run(argv, env=env, cwd=BASE_DIR, capture_output=True, text=True, timeout=60)


COMMANDS = {
    "check": [sys.executable, "manage.py", "check"],
    "runworker": [sys.executable, "manage.py", "runworker", "tasks.default"],
    "dispatcher": [sys.executable, "manage.py", "dispatcher"],
    "serve": [sys.executable, "manage.py", "serve", "--port", "0"],
    "daphne": [os.path.join(os.path.dirname(sys.executable), "daphne"), "--port", "0", "project.asgi:application"],
}


@pytest.mark.parametrize("command", COMMANDS)
def test_a_variable_that_does_not_read_stops_every_process_in_one_line(command: str) -> None:
    result = run(COMMANDS[command], {"RETRY_LEASE": "soon"})
    assert result.returncode != 0
    assert result.stderr.strip() == "Configuration error: RETRY_LEASE='soon' is not a number."


@pytest.mark.parametrize("command", COMMANDS)
def test_a_setting_out_of_range_fails_the_system_check_of_every_process(command: str) -> None:
    result = run(COMMANDS[command], {"RETRY_LEASE": "0"})
    assert result.returncode != 0
    assert "(retry.E001) RETRY_LEASE must be positive, not 0.0." in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("command", ["check", "runworker"])
def test_a_lease_its_heartbeats_cannot_renew_in_time_fails_the_system_check(command: str) -> None:
    """Leases are renewed at each heartbeat: with RETRY_LEASE under two heartbeat intervals, a task running longer
    than its lease would be recovered while it still runs, and run a second time."""
    result = run(COMMANDS[command], {"RETRY_LEASE": "4"})
    assert result.returncode != 0
    assert (
        "(retry.E001) RETRY_LEASE must be at least twice RETRY_HEARTBEAT_INTERVAL (5.0 s), not 4.0: leases are "
        "renewed at each heartbeat" in result.stderr
    )
    assert "Traceback" not in result.stderr


def test_the_worker_runs_with_the_timings_of_its_environment(tmp_path: Path) -> None:
    """The Procfile's worker, with project.settings: RETRY_CONCURRENCY and RETRY_LEASE reach its heartbeat."""
    database = tmp_path / "db.sqlite3"
    env = {"DATABASE_URL": f"sqlite:///{database}", "RETRY_CONCURRENCY": "3", "RETRY_HEARTBEAT_INTERVAL": "0.2"}
    assert run([sys.executable, "manage.py", "migrate", "--no-input"], env).returncode == 0
    probe = "from retry.models import Heartbeat; print(json.dumps(list(Heartbeat.objects.values_list('concurrency'))))"
    worker = subprocess.Popen(
        [sys.executable, "manage.py", "runworker", "tasks.default"],
        env=clean_env({"DJANGO_SETTINGS_MODULE": "project.settings", **env}),
        cwd=BASE_DIR,
    )
    try:
        for _ in range(100):
            shown = run([sys.executable, "manage.py", "shell", "--no-imports", "-c", f"import json; {probe}"], env)
            if json.loads(shown.stdout or "[]"):
                break
        assert json.loads(shown.stdout) == [[3]]
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(30)
