"""The operator's policy override form: it saves only an override that names a task and leaves a policy that works."""

from typing import Any

from django import forms

from retry import conf, policy, registry
from retry.exceptions import TaskNotRegistered
from retry.models import PolicyOverride


class PolicyOverrideForm(forms.ModelForm):  # type: ignore[type-arg]
    class Meta:
        model = PolicyOverride
        fields = ("task_path", "max_attempts", "base_delay", "factor", "max_delay", "jitter", "note")

    def clean(self) -> dict[str, Any]:
        """The task's policy with these numbers, blanks taking the code's, keeps the rules and the retry floor."""
        cleaned: dict[str, Any] = super().clean() or {}
        if not cleaned.get("task_path"):
            return cleaned
        try:
            task = registry.load(cleaned["task_path"])
        except TaskNotRegistered as error:
            self.add_error("task_path", str(error))
            return cleaned
        resolved = registry.code_policy(task).with_numbers(cleaned)
        for name, problem in policy.problems(resolved, floor=conf.get().MIN_DELAY).items():
            self.add_error(name, f"The policy's {name.replace('_', ' ')} {problem}.")
        return cleaned
