"""Tools that only make sense in a clone (not part of the installed package): run them from the repository root
as `python -m tools.zh ...` and `python -m tools.first_cell ...`."""
