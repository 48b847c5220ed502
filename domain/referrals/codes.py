"""A member's referral code: their id and a keyed MAC of it, so a code names its member without
a table and cannot be made up for someone else. Changing the secret key changes every code."""

from __future__ import annotations

import hashlib
import hmac

ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyz"
MAC_CHARS = 10
MAX_CODE_LENGTH = 32


def _b36(n: int) -> str:
    out = ""
    while True:
        n, r = divmod(n, 36)
        out = ALPHABET[r] + out
        if n == 0:
            return out


class ReferralCodes:
    def __init__(self, secret: str) -> None:
        self._key = hashlib.sha256(b"c2m referral codes|" + secret.encode()).digest()

    def _mac(self, user_id: int) -> str:
        return hmac.new(self._key, str(user_id).encode(), hashlib.sha256).hexdigest()[:MAC_CHARS]

    def code_for(self, user_id: int) -> str:
        return f"{_b36(user_id)}-{self._mac(user_id)}"

    def user_of(self, code: str) -> int | None:
        """The member a code names, or None when it is not one of ours."""
        if not code or len(code) > MAX_CODE_LENGTH or code.count("-") != 1:
            return None
        head, mac = code.lower().split("-")
        if not head or any(c not in ALPHABET for c in head) or len(head) > 13:
            return None
        user_id = int(head, 36)
        return user_id if hmac.compare_digest(mac, self._mac(user_id)) else None
