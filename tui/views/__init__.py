"""View records and action builders, one module per panel (beside ``tui/screens/<panel>.py``).

Pure data and pure functions: nothing here talks to a node; a backend fills the records and
executes the actions.
"""
