"""vidjax: video understanding in JAX/Flax."""

__version__ = '0.3.0.dev0'
