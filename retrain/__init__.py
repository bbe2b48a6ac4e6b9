"""retrain: datasets, training jobs, evaluation and model cards for modgate's classifiers.

Each training job reads labelled data, trains on a seeded split, evaluates once on a held-out
test split it never tunes on, exports the model to ONNX through ``export`` (with a parity
check), and writes a self-describing artifact directory (``model.onnx``, ``metadata.json``,
``metrics.json``, ``MODEL_CARD.md``) that ``models`` loads as is.
"""
