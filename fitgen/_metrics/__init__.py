"""Private parts of `fitgen.metrics` (import from fitgen.metrics)."""
