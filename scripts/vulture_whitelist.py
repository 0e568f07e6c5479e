"""Names vulture reports as unused that are used from outside its view; `make lint` reads
this file with the package (see [tool.vulture] in pyproject.toml). Each group says who uses
them. Not imported by anything: attribute accesses on ``_`` are how vulture is told a name
is used.
"""

# ruff: noqa
_ = object()

# Called by frameworks, by name: SQLAlchemy type decorators and the declarative base,
# Starlette's compression middleware, Click's help formatter, huey's serializer and storage,
# io's file protocol, http.server / socketserver, onnxruntime's session options.
_.impl
_.cache_ok
_.process_bind_param
_.process_result_value
_.type_annotation_map
_.content_encoding
_.apply_compression
_.format_commands
_._add_completion
_._serialize
_._deserialize
_.redis_client
_.eta
_.seekable
_.daemon_threads
_.log_severity_level
_.data_location  # tests/flavors: onnx's TensorProto field
_.before_call  # tests/api: schemathesis's state machine hooks
_.get_call_kwargs
_.asked_for_at_length  # tests/api: a fixture asked for by name, for what it sets up

# Module __getattr__ (PEP 562): lazy exports of modelyard.jobs and modelyard.registry.
_.__getattr__

# typer.Typer().command(...)(function) registrations in cli/__init__.py, and the signature
# the remote commands present to Typer.
_.demo
_.serve_model
_.__signature__
_.__annotations__

# ORM columns assigned (the database reads them; pages and the API read them through
# the schemas).
_.status_changed_at
_.duration_ms

# Fields of parsed and measured records: every field of the source's output is kept, and
# the records are written whole (dataclasses.asdict, model_dump) into stored JSON, reports
# and the CLI's tables, so a field no Python code reads is still part of what is kept.
_.updated_ms  # imports/_mlflow: an MLflow model version
_.unchanged  # imports: the import's counts, sent to the client
_.artifacts_imported
_.censored_violation_pct  # deployments/_engine: an interval's evaluation
_.min_write_buffer_number_to_merge  # perfmodels/_config: db_bench's options
_.subcompactions
_.soft_pending_compaction_bytes_limit
_.hard_pending_compaction_bytes_limit
_.level_compaction_dynamic_level_bytes
_.use_existing_db
_.level_targets  # perfmodels/_lsm: the simulated shape and run
_.second_half_ops_per_sec
_.l0_increase_files
_.pending_increase_bytes
_.pending_mean_bytes
_.flush_cpu_sec
_.flush_cpu_sec_second_half
_.rand_write_bytes_per_sec  # perfmodels/_profile: a device profile
_.closed_use_ratio
_.sampled_at  # targets/dbbench: measurements and db_bench's parsed output
_.measured_at
_.availability_before
_.total_ops_per_sec
_.interval_sec
_.read_gb
_.rn_gb
_.rnp1_gb
_.write_gb
_.wnew_gb
_.moved_gb
_.w_amp
_.comp_sec
_.key_drop
_.cumulative_compaction_read_gb
_.p95
_.p100
_.total_ms  # telemetry/endpoints.py: fields of its response schemas
_.max_ms
_.statements
_.table_rows
