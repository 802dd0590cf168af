"""Private parts of `fitgen.losses`: loss functions and the weighted reduction (import from fitgen.losses)."""
