"""The public order form; the JSON API validates with it too."""

from django import forms

from orders.models import Order


# Generic in django-stubs only; Django's ModelForm cannot be subscripted.
class OrderForm(forms.ModelForm):  # type: ignore[type-arg]
    class Meta:
        model = Order
        fields = ["customer_name", "customer_email", "flavour", "size", "message", "webhook_url"]
        labels = {
            "customer_name": "Your name",
            "customer_email": "E-mail",
            "message": "Message on the cake",
            "webhook_url": "Webhook URL (optional)",
        }
        help_texts = {
            "message": "Up to 60 characters.",
            "webhook_url": "We POST to this address when your order changes.",
        }
        widgets = {
            "customer_name": forms.TextInput(attrs={"autocomplete": "name"}),
            "customer_email": forms.EmailInput(attrs={"autocomplete": "email"}),
            "message": forms.TextInput(attrs={"placeholder": "Happy birthday, Sam!"}),
            "webhook_url": forms.URLInput(attrs={"placeholder": "https://example.com/hooks/cake"}),
        }
