"""Weight conversion: 2D -> 3D inflation (`inflate`)."""
