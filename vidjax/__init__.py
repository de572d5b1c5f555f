"""vidjax: video understanding in JAX/Flax."""

__version__ = '0.5.0.dev0'
