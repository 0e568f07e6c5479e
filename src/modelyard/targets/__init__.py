"""Adapters to live systems (db_bench, embedded RocksDB, ...), each behind a small Protocol."""
