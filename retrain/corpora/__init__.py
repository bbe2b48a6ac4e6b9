"""Labelled text corpora: one reader per public data set, mapped onto our harm heads.

``base`` holds the shared shape (labels, examples, the ``Corpus`` record); ``seed``,
``english``, ``multilingual`` and ``eval_only`` the readers; ``registry`` lists them all.
"""
