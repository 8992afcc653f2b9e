"""MLflow tracking and the model registry, as the project uses them.

One `Tracker` per experiment: runs carry our tags, models are registered under one name and
promoted by moving the `champion` alias (aliases, not the deprecated stages). The tracking
store is the project database (schema `mlflow`) unless told otherwise; artifacts live in a
local folder (or any MLflow artifact URI).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import mlflow
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException, RestException

from ijules_core.store.db import redact_url

CHAMPION = "champion"
MODEL_NAME = "ijules-policy"  # the registered model every trained policy is a version of
log = logging.getLogger(__name__)


class TrackingError(RuntimeError):
    """MLflow could not be reached or refused what we asked; the message says what to check."""


@dataclass
class Tracker:
    tracking_uri: str
    experiment: str
    artifact_root: str
    ui_url: str = "http://127.0.0.1:5000"

    def __post_init__(self) -> None:
        try:
            self.client = MlflowClient(self.tracking_uri)  # connects to a database store right here
            exp = self.client.get_experiment_by_name(self.experiment)
            self.experiment_id = exp.experiment_id if exp else self.client.create_experiment(
                self.experiment, artifact_location=_as_uri(self.artifact_root)
            )
        except Exception as exc:  # sqlalchemy/psycopg/rest errors all mean: the store is not usable
            raise TrackingError(f"MLflow tracking store {redact_url(self.tracking_uri)} is not usable: "
                                f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}") from exc

    @contextlib.contextmanager
    def start_run(self, name: str, tags: Mapping[str, str]) -> Iterator[mlflow.ActiveRun]:
        """An active MLflow run in our experiment (so `mlflow.log_*` calls land in it)."""
        mlflow.set_tracking_uri(self.tracking_uri)
        with mlflow.start_run(experiment_id=self.experiment_id, run_name=name, tags=dict(tags)) as run:
            yield run

    def run_url(self, run_id: str) -> str:
        return f"{self.ui_url}/#/experiments/{self.experiment_id}/runs/{run_id}"

    def register(self, run_id: str, artifact_path: str, model_name: str, tags: Mapping[str, str] = {}) -> str:
        """Register the run's artifact as a new version of `model_name`; returns the version."""
        with contextlib.suppress(MlflowException):
            self.client.create_registered_model(model_name)
        mv = self.client.create_model_version(
            model_name, f"runs:/{run_id}/{artifact_path}", run_id=run_id, tags=dict(tags),
            run_link=self.run_url(run_id),
        )
        return mv.version

    def alias_version(self, model_name: str, alias: str = CHAMPION):
        """The model version the alias points at, or None."""
        try:
            return self.client.get_model_version_by_alias(model_name, alias)
        except (MlflowException, RestException):
            return None

    def set_alias(self, model_name: str, version: str, alias: str = CHAMPION) -> None:
        self.client.set_registered_model_alias(model_name, alias, version)
        log.info("%s@%s -> version %s", model_name, alias, version)

    def download(self, run_id: str, artifact_path: str, dst: Path) -> Path:
        return Path(self.client.download_artifacts(run_id, artifact_path, str(dst)))


def _as_uri(root: str) -> str:
    return Path(root).resolve().as_uri() if "://" not in root else root
