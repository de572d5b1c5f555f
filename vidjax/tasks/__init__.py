"""Tasks: loss and metrics per experiment family (`vidjax.tasks.<name>`)."""
