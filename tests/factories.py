"""Test data shared by the test packages."""

#: A valid order, as the form and services.place_order take it.
ORDER_FIELDS = {
    "customer_name": "Sam Baker",
    "customer_email": "sam@example.com",
    "flavour": "pistachio",
    "size": "medium",
    "message": "Happy birthday, Sam!",
}
