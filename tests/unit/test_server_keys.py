"""``ApiKeys``: the accepted bearer keys, matched in constant time, never shown."""

from __future__ import annotations

import hashlib

from tasklife.server import key_fingerprint
from tasklife.server.middleware import ApiKeys

KEYS = ["first-secret-key", "second-secret-key"]


class TestApiKeys:
    def test_known_key_gives_its_owner(self) -> None:
        """A configured key maps to its own fingerprint."""
        keys = ApiKeys(KEYS, key_fingerprint)
        assert keys.owner(b"second-secret-key") == key_fingerprint("second-secret-key")

    def test_unknown_key_gives_none(self) -> None:
        """A key that is not configured (even a prefix of one) maps to None."""
        keys = ApiKeys(KEYS, key_fingerprint)
        assert (keys.owner(b"first-secret"), keys.owner(b"")) == (None, None)

    def test_repr_hides_the_keys(self) -> None:
        """The repr counts the keys and shows none of them."""
        text = repr(ApiKeys(KEYS, key_fingerprint))
        assert text == "<ApiKeys: 2 key(s), redacted>"

    def test_fingerprint_is_sha256(self) -> None:
        """The owner stored for a key is its SHA-256 in hex, never the key."""
        assert key_fingerprint("k") == hashlib.sha256(b"k").hexdigest()
