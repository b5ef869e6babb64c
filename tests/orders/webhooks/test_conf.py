"""The webhook settings as the deliveries read them: the signing secrets, current first, and the errors that
never quote a secret."""

import pytest
from django.core.exceptions import ImproperlyConfigured
from pytest_django import Settings

from orders.webhooks import conf, signing
from tests.orders.webhooks.test_signing import VECTOR_BODY, VECTOR_ID, VECTOR_SECRET, VECTOR_SIGNATURE, VECTOR_TIMESTAMP


def test_secrets_come_from_the_setting_current_first(settings: Settings) -> None:
    settings.WEBHOOK_SECRETS = [VECTOR_SECRET, "an older plain secret"]

    current, older = conf.secrets()

    assert signing.sign(current, VECTOR_ID, VECTOR_TIMESTAMP, VECTOR_BODY) == VECTOR_SIGNATURE
    assert signing.sign(older, "e", 1, b"") == signing.sign(b"an older plain secret", "e", 1, b"")


@pytest.mark.parametrize(
    ("secrets", "message"),
    [
        ([], "WEBHOOK_SECRETS is empty"),
        (["whsec_not base64!"], r"WEBHOOK_SECRETS\[0\]: a whsec_ secret must be base64"),
        (["fine", ""], r"WEBHOOK_SECRETS\[1\]: a webhook secret must not be empty"),
    ],
)
def test_a_bad_secret_setting_is_a_configuration_error_that_does_not_quote_it(
    settings: Settings, secrets: list[str], message: str
) -> None:
    settings.WEBHOOK_SECRETS = secrets

    with pytest.raises(ImproperlyConfigured, match=message) as error:
        conf.secrets()

    assert "not base64!" not in str(error.value)
    assert error.value.__cause__ is None
