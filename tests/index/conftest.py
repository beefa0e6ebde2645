"""Session-wide real-model fixtures: the bundled e5 is converted once per test session."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ["HF_HUB_OFFLINE"] = "1"

REPO_ROOT = Path(__file__).resolve().parents[2]


def _models_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # KB_TEST_MODELS_DIR keeps the converted folder between sessions (conversion takes ~10 s):
    # a path is used as given; "1"/"true"/"yes" mean the repo's var/test-models.
    env = os.environ.get("KB_TEST_MODELS_DIR", "").strip()
    if not env:
        return tmp_path_factory.mktemp("models")
    if env.lower() in {"1", "true", "yes"}:
        return REPO_ROOT / "var" / "test-models"
    return Path(env)


@pytest.fixture(scope="session")
def bundled_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bundled multilingual-e5-small converted to a sentence-transformers folder."""
    from index.e5_bundled import ensure_bundled_model

    return ensure_bundled_model(_models_dir(tmp_path_factory), show_progress=False)
