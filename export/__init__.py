"""export: framework models -> ONNX with parity checks.

Each exporter turns a trained framework model (XGBoost today; transformers and timm later)
into an ONNX file that the serving room loads with ONNX Runtime, and offers a parity check
that runs both on the same rows, so an artifact never ships with scores that differ from
the model it was evaluated as.
"""
