"""vidjax: video understanding in JAX/Flax."""

__version__ = '0.4.0.dev0'
