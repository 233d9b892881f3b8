"""DecentralML console (Textual): ``decentralml console`` (docs/console.md).

Importing this package imports nothing else; ``decentralml.tui.app`` brings in Textual.
"""
