"""With DEBUG off and real values, Django's deployment checks find nothing to complain about."""

import secrets

from tests.project.conftest import run_python


def test_check_deploy_reports_no_issues() -> None:
    variables = {
        "DEBUG": "0",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "cakes.example.com",
        "CSRF_TRUSTED_ORIGINS": "https://cakes.example.com",
    }
    result = run_python(["manage.py", "check", "--deploy", "--fail-level", "DEBUG"], variables)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_check_deploy_notices_a_weak_secret_key() -> None:
    variables = {"DEBUG": "0", "SECRET_KEY": "short", "ALLOWED_HOSTS": "cakes.example.com"}
    result = run_python(["manage.py", "check", "--deploy", "--fail-level", "WARNING"], variables)
    assert result.returncode != 0
    assert "security.W009" in result.stderr
