"""The lesson's instruments: the measurements, tables and figures the notebooks show beside the prose.
Built on the core and the training machinery; nothing below imports them."""
