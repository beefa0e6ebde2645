"""Text encoders: the protocol the index uses, and a small deterministic fake for unit tests."""

from __future__ import annotations

import hashlib
import itertools
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from index.text import normalize


@runtime_checkable
class Encoder(Protocol):
    """Turns texts into L2-normalised float32 vectors (rows), queries and passages apart."""

    name: str
    dim: int

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Encode search queries (the model's query prompt applied)."""
        ...

    def encode_passages(self, texts: Sequence[str], *, show_progress: bool = False) -> np.ndarray:
        """Encode passages/documents (the model's passage prompt applied)."""
        ...


class FakeEncoder:
    """Hashes character uni/bi-grams into a fixed-size vector: similar strings, similar vectors.

    For logic tests only; it knows nothing of meaning.
    """

    def __init__(self, dim: int = 128) -> None:
        self.name = f"fake-{dim}"
        self.dim = dim

    def _one(self, text: str) -> np.ndarray:
        vec = np.zeros(self.dim, dtype=np.float32)
        chars = [c for c in normalize(text) if not c.isspace()]
        grams = chars + [a + b for a, b in itertools.pairwise(chars)]
        for gram in grams:
            h = int.from_bytes(hashlib.blake2b(gram.encode(), digest_size=8).digest(), "little")
            vec[h % self.dim] += 1.0 if (h >> 32) & 1 else -1.0
        norm = float(np.linalg.norm(vec))
        if norm == 0.0:
            vec[0] = 1.0
            return vec
        return vec / norm

    def _many(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.vstack([self._one(t) for t in texts]).astype(np.float32)

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Encode queries."""
        return self._many(texts)

    def encode_passages(self, texts: Sequence[str], *, show_progress: bool = False) -> np.ndarray:
        """Encode passages."""
        return self._many(texts)


def _l2_normalise(vecs: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vecs, axis=1, keepdims=True)
    return (vecs / np.maximum(norms, 1e-12)).astype(np.float32, copy=False)


class SentenceTransformerEncoder:
    """Any local sentence-transformers folder: the bundled e5, or e.g. a site's bge-small-zh."""

    def __init__(
        self,
        path: str | Path,
        *,
        query_prompt: str | None = None,
        passage_prompt: str | None = None,
        batch_size: int = 32,
        device: str = "cpu",
    ) -> None:
        folder = Path(path)
        if not folder.is_dir():
            raise FileNotFoundError(f"model folder not found: {folder}")
        # Sites have no model hub: fail rather than reach for the network.
        os.environ["HF_HUB_OFFLINE"] = "1"
        os.environ["TRANSFORMERS_OFFLINE"] = "1"
        from sentence_transformers import SentenceTransformer

        self._model: Any = SentenceTransformer(
            str(folder), device=device, local_files_only=True, trust_remote_code=False
        )
        prompts: dict[str, str] = dict(getattr(self._model, "prompts", None) or {})
        self.query_prompt = query_prompt if query_prompt is not None else prompts.get("query")
        if passage_prompt is None:
            passage_prompt = prompts.get("passage") or prompts.get("document")
        self.passage_prompt = passage_prompt
        self.batch_size = batch_size
        self.name = folder.name
        dim = self._model.get_embedding_dimension()
        if not dim:
            raise ValueError(f"{folder}: cannot tell the embedding dimension")
        self.dim = int(dim)

    def _encode(self, texts: Sequence[str], prompt: str | None, show_progress: bool) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        # Longest first, so each batch holds similar lengths and pads little; order restored below.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]), reverse=True)
        vecs = self._model.encode(
            [texts[i] for i in order],
            prompt=prompt or None,
            batch_size=self.batch_size,
            show_progress_bar=show_progress,
            convert_to_numpy=True,
        )
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        out[np.asarray(order)] = np.asarray(vecs, dtype=np.float32)
        # Not every folder ends in a Normalize module (renormalising a unit vector is harmless).
        return _l2_normalise(out)

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Encode search queries with the query prompt."""
        return self._encode(texts, self.query_prompt, False)

    def encode_passages(self, texts: Sequence[str], *, show_progress: bool = False) -> np.ndarray:
        """Encode passages with the passage prompt."""
        return self._encode(texts, self.passage_prompt, show_progress)

    def warm_up(self) -> None:
        """Run a few encodes of different lengths so the first real request is not slow."""
        self.encode_queries(["你好", "社保卡丢了怎么补办？"])
        self.encode_passages(["市民可通过12345热线咨询居住证办理流程。" * 12, "办理时间"])


def load_encoder(model_path: str | None, models_dir: Path) -> Encoder:
    """Open the configured model folder, or the bundled e5 (converted on first use) if None."""
    if model_path is None:
        from index.e5_bundled import ensure_bundled_model

        return SentenceTransformerEncoder(ensure_bundled_model(models_dir))
    return SentenceTransformerEncoder(model_path)
