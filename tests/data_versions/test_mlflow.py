"""MLflow gets each source a run read as a dataset input: its URL as source, its scheme as
source type, its version as digest."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from .conftest import WebSite, run_script
from .test_http import records

pytestmark = pytest.mark.slow


def test_a_source_is_an_mlflow_dataset(classifier: Path, web: WebSite) -> None:
    pytest.importorskip("mlflow")
    from mlflow.tracking import MlflowClient

    url = f"{web.url}/wine.csv"
    uri = f"sqlite:///{classifier / 'mlflow.db'}"
    run_script(
        classifier, "train_classifier.py", "--data-path", url, "--tracking-uri", uri,
        "--n-estimators", "10",
    )
    [record] = records(classifier)
    assert record.mlflow is not None
    found = MlflowClient(tracking_uri=uri).get_run(record.mlflow.run_id)
    [dataset] = [entry.dataset for entry in found.inputs.dataset_inputs]
    source = record.sources[0]
    assert (dataset.name, dataset.source, dataset.source_type) == (url, url, "http")
    assert source.sha256 is not None and dataset.digest == source.sha256[:36]
    assert json.loads(json.dumps(dataset.source)) == url
