"""What the wheel leaves to extras fails clearly without them."""

import sys

import pytest
from django.core.management import CommandError, call_command


def test_serve_without_daphne_says_which_extra_brings_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "daphne.server", None)  # import daphne.server raises ImportError
    with pytest.raises(CommandError, match=r"serve needs daphne: pip install 'django-channels-retry\[serve\]'"):
        call_command("serve", "--port", "0")
