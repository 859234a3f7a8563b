"""What every script shares at its edges: the command line (flags, the one-line error, logging) and files
written whole or not at all. Imports nothing else of the project."""
