"""tfds dataset builders (array_record storage, no TensorFlow needed).

Importing any of them lets tfds write splits larger than its in-memory shuffle buffer
without TensorFlow (`tf_free_shuffle`).
"""

from vidjax.data.builders import tf_free_shuffle

tf_free_shuffle.install()
