"""Model zoo: one architecture family per module, each exposing `Model`."""
