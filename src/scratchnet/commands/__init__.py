"""One module per ``scratchnet`` sub-command: each parses its arguments and calls a lesson."""
