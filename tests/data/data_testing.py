"""Helpers shared by the data tests."""

import dataclasses


def one_record_dataset(dataset, record: dict):
  """`dataset` whose source holds the one `record` (e.g. a video the test wrote)."""

  class OneRecord:
    def __len__(self):
      return 1

    def __getitem__(self, index):
      return record

  return dataclasses.replace(dataset, source=OneRecord())
