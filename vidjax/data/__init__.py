"""Input pipeline: tfds builders, PyAV decoding, sampling, grain graph, augmentation."""
