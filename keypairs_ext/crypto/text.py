"""Checks on user text that every parser shares.

Reasons never echo key material beyond a short, escaped excerpt.
"""

from __future__ import annotations

from keypairs_ext.exception import InvalidKeypair

# A 16384-bit RSA line is under 3 KB; this leaves room for a long comment.
MAX_PUBLIC_KEY_CHARS = 16384
MAX_CERTIFICATE_CHARS = 65536
# Character classes that make a line render differently from what it is.
FORBIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})


def show(token: str | bytes, limit: int = 40) -> str:
    """An escaped, truncated excerpt of user input, safe to put in a reason."""
    if isinstance(token, bytes):
        token = token.decode("ascii", errors="backslashreplace")
    excerpt = ascii(token[:limit])
    return excerpt + ("..." if len(token) > limit else "")


def check_length(text: str, limit: int = MAX_PUBLIC_KEY_CHARS) -> None:
    if len(text) > limit:
        raise InvalidKeypair(f"the input is too long ({len(text)} characters; at most {limit})")
