"""The operators' forms: a policy override that names a task and leaves a policy that works; a task limit."""

from typing import Any

from django import forms

from retry import conf, policy, registry
from retry.exceptions import TaskNotRegistered
from retry.models import PolicyOverride, TaskLimit


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


class TaskLimitForm(forms.ModelForm):  # type: ignore[type-arg]
    class Meta:
        model = TaskLimit
        fields = ("task_path", "concurrency", "rate", "period", "note")

    def clean_task_path(self) -> str:
        """A limit names a task this deploy has: a typo would limit nothing."""
        task_path: str = self.cleaned_data["task_path"]
        try:
            registry.load(task_path)
        except TaskNotRegistered as error:
            raise forms.ValidationError(str(error)) from error
        return task_path
