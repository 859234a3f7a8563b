"""What a finished run leaves and says: its directory (args.json, metrics.json), training curves, model card
and the one-line summary against its teacher."""
