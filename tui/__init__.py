"""DecentralML console (Textual). Placeholder: the console is built in its own issue."""
