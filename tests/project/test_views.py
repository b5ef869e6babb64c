"""The health endpoint."""

import pytest
from django.urls import reverse


@pytest.mark.django_db
@pytest.mark.services
def test_healthz_reports_the_database_answers(client):
    response = client.get(reverse("healthz"))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"status": "ok", "database": "ok"}


def test_healthz_reports_503_without_a_database(client):
    # Without django_db, pytest-django blocks database access: the check sees an error.
    response = client.get(reverse("healthz"))
    assert response.status_code == 503
    assert response.json()["status"] == "error"
