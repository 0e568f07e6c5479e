"""Datasets: uploaded tables (CSV, Parquet, JSON Lines; plain, gzip or zstd) checked in one
streaming pass and stored once as Parquet, for evaluations and drift checks to read.

``receive`` streams a request body to disk, ``formats`` tells what a file is from its bytes,
``ingest`` checks and converts it, ``store`` says where bytes live, ``service`` registers,
lists, previews and deletes datasets and runs resumable uploads; ``endpoints`` is the API.
Other domains call ``service`` (``get_by_reference``, ``get``) and read ``schemas``.
"""

from modelyard.datasets.schemas import DatasetOut, DatasetPage, PreviewOut

__all__ = ["DatasetOut", "DatasetPage", "PreviewOut"]
