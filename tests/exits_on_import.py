"""A task module that ends the process that imports it, as a deploy with a broken module might."""

raise SystemExit(7)
