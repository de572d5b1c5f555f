"""tfds dataset builders (array_record storage, no TensorFlow needed)."""
