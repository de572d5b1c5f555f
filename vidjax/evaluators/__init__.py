"""Evaluators (`vidjax.evaluators.<name>.Evaluator`)."""
