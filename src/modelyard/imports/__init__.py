"""Imports from other model registries: ``modelyard import mlflow`` and ``POST
/api/imports/mlflow``, a job (``import.mlflow``) with progress whose result says what was
created, updated, left alone, and registered without its model file and why."""
