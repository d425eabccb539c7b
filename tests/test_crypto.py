import pytest

from datadesk.crypto import DecryptionFailed, decrypt, encrypt


def test_round_trip() -> None:
    token = encrypt("key-one-0123456789", "postgresql://u:hunter2@db/x")
    assert "hunter2" not in token
    assert decrypt("key-one-0123456789", token) == "postgresql://u:hunter2@db/x"


def test_each_encryption_differs() -> None:
    assert encrypt("key-one-0123456789", "x") != encrypt("key-one-0123456789", "x")


@pytest.mark.parametrize("token", ["garbage", ""])
def test_wrong_key_or_garbage_fails_cleanly(token: str) -> None:
    good = encrypt("key-one-0123456789", "secret")
    with pytest.raises(DecryptionFailed, match="DATADESK_SECRET_KEY"):
        decrypt("key-two-0123456789", good)
    with pytest.raises(DecryptionFailed):
        decrypt("key-one-0123456789", token)
