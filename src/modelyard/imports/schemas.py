"""Input and output shapes of imports from other registries."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator


class MlflowImportParams(BaseModel):
    """The ``import.mlflow`` job's parameters."""

    model_config = ConfigDict(extra="forbid")

    tracking_uri: str = Field(
        min_length=8,
        max_length=2000,
        description="The MLflow tracking server, e.g. `http://mlflow.internal:5000`.",
    )
    models: list[str] = Field(
        default_factory=list,
        max_length=100,
        description="MLflow model names or shell patterns to import; empty: every model.",
    )

    @field_validator("tracking_uri")
    @classmethod
    def _http(cls, value: str) -> str:
        if not value.lower().startswith(("http://", "https://")):
            raise ValueError("must be an http:// or https:// URL of an MLflow tracking server")
        return value.rstrip("/")


class MlflowImportCreate(MlflowImportParams):
    priority: str = Field(
        "normal", max_length=16, description="low, normal, high, urgent or 0-100."
    )


class SkippedArtifact(BaseModel):
    model: str
    version: int
    reason: str


class Renamed(BaseModel):
    mlflow: str
    modelyard: str


class Counts(BaseModel):
    created: int = 0
    updated: int = 0
    unchanged: int = 0


class AliasCounts(BaseModel):
    set: int = 0
    unchanged: int = 0
    refused: int = 0


class ImportFailure(BaseModel):
    model: str
    version: int | None = None
    error: str


class MlflowImportResult(BaseModel):
    """What an import did; a second run over an unchanged registry changes nothing."""

    tracking_uri: str
    models: Counts = Field(default_factory=Counts)
    versions: Counts = Field(default_factory=Counts)
    artifacts_imported: int = 0
    aliases: AliasCounts = Field(default_factory=AliasCounts)
    without_artifact: list[SkippedArtifact] = Field(
        default_factory=list,
        description="Versions registered without their model file, and why (pickle refused, "
        "a flavor modelyard does not load, no MLmodel file).",
    )
    renamed: list[Renamed] = Field(
        default_factory=list, description="MLflow names that are not valid modelyard names."
    )
    refused_aliases: list[ImportFailure] = Field(default_factory=list)
    failures: list[ImportFailure] = Field(default_factory=list)
