"""The payment provider port (WeChat Pay API v3) and its two adapters.

``WeChatPay`` speaks API v3: JSAPI prepay, refunds, and verification of the signed, encrypted
payment notifications (RSA-SHA256 signatures, AES-256-GCM resources). Contract-tested against a
local fake. ``SandboxPay`` (the embedded default) implements the same protocol with keys of its
own: after a prepay it *pays*, by posting a properly signed and encrypted notification to our
real webhook, so the webhook code path is exactly the production one.

Written on ``cryptography`` and httpx rather than the ``wechatpayv3`` SDK: that SDK is
synchronous (requests) and downloads platform certificates over the network when constructed,
which fits neither an async server nor a machine without WeChat access.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import os
import secrets
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import httpx
from cryptography import x509
from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

log = logging.getLogger(__name__)

NOTIFY_MAX_AGE_SECONDS = 300


@dataclass(frozen=True)
class PrepayRequest:
    out_trade_no: str
    description: str
    amount_fen: int
    currency: str
    openid: str


@dataclass(frozen=True)
class JsapiParams:
    """What the mini-program passes to wx.requestPayment."""

    app_id: str
    time_stamp: str
    nonce_str: str
    package: str
    sign_type: str
    pay_sign: str


@dataclass(frozen=True)
class PaymentNotice:
    out_trade_no: str
    transaction_id: str
    trade_state: str
    amount_fen: int
    currency: str


@dataclass(frozen=True)
class RefundRequest:
    out_trade_no: str
    out_refund_no: str
    refund_fen: int
    total_fen: int
    currency: str


class ProviderError(Exception):
    pass


class BadNotification(Exception):
    """Signature, timestamp or payload did not verify: nothing may change."""


class PaymentProvider(Protocol):
    name: str

    async def prepay(self, request: PrepayRequest) -> JsapiParams: ...

    async def refund(self, request: RefundRequest) -> str: ...

    def parse_notification(self, headers: Mapping[str, str], body: bytes) -> PaymentNotice: ...

    async def aclose(self) -> None: ...


# --- API v3 primitives ----------------------------------------------------------------------


def rsa_sign(private_key: rsa.RSAPrivateKey, message: str) -> str:
    sig = private_key.sign(message.encode(), padding.PKCS1v15(), hashes.SHA256())
    return base64.b64encode(sig).decode()


def rsa_verify(public_key: rsa.RSAPublicKey, message: str, signature: str) -> bool:
    try:
        public_key.verify(
            base64.b64decode(signature), message.encode(), padding.PKCS1v15(), hashes.SHA256()
        )
    except (InvalidSignature, ValueError):
        return False
    return True


def aes_gcm_decrypt(api_v3_key: bytes, nonce: str, associated_data: str, ciphertext: str) -> bytes:
    return AESGCM(api_v3_key).decrypt(
        nonce.encode(), base64.b64decode(ciphertext), associated_data.encode()
    )


def aes_gcm_encrypt(api_v3_key: bytes, nonce: str, associated_data: str, plaintext: bytes) -> str:
    return base64.b64encode(
        AESGCM(api_v3_key).encrypt(nonce.encode(), plaintext, associated_data.encode())
    ).decode()


@dataclass
class Keys:
    merchant_private: rsa.RSAPrivateKey
    merchant_serial: str
    platform_public: dict[str, rsa.RSAPublicKey]  # by Wechatpay-Serial
    api_v3_key: bytes


def verify_and_decrypt(keys: Keys, headers: Mapping[str, str], body: bytes) -> PaymentNotice:
    h = {k.lower(): v for k, v in headers.items()}
    try:
        timestamp, nonce = h["wechatpay-timestamp"], h["wechatpay-nonce"]
        signature, serial = h["wechatpay-signature"], h["wechatpay-serial"]
    except KeyError as exc:
        raise BadNotification(f"missing header {exc}") from exc
    public = keys.platform_public.get(serial)
    if public is None:
        raise BadNotification("unknown platform certificate serial")
    try:
        age = abs(time.time() - int(timestamp))
    except ValueError as exc:
        raise BadNotification("bad timestamp") from exc
    if age > NOTIFY_MAX_AGE_SECONDS:
        raise BadNotification("stale notification (replay?)")
    if not rsa_verify(
        public, f"{timestamp}\n{nonce}\n{body.decode(errors='replace')}\n", signature
    ):
        raise BadNotification("signature does not verify")
    try:
        envelope = json.loads(body)
        resource = envelope["resource"]
        plain = aes_gcm_decrypt(
            keys.api_v3_key,
            resource["nonce"],
            resource.get("associated_data", ""),
            resource["ciphertext"],
        )
        data = json.loads(plain)
        return PaymentNotice(
            out_trade_no=str(data["out_trade_no"]),
            transaction_id=str(data["transaction_id"]),
            trade_state=str(data["trade_state"]),
            amount_fen=int(data["amount"]["total"]),
            currency=str(data["amount"].get("currency", "CNY")),
        )
    except (KeyError, ValueError, TypeError, InvalidTag) as exc:
        raise BadNotification(f"undecipherable resource: {exc!r}") from exc


def jsapi_params(keys: Keys, app_id: str, prepay_id: str) -> JsapiParams:
    ts, nonce = str(int(time.time())), secrets.token_hex(16)
    package = f"prepay_id={prepay_id}"
    return JsapiParams(
        app_id,
        ts,
        nonce,
        package,
        "RSA",
        rsa_sign(keys.merchant_private, f"{app_id}\n{ts}\n{nonce}\n{package}\n"),
    )


def authorization(keys: Keys, mchid: str, method: str, path: str, body: str) -> str:
    ts, nonce = str(int(time.time())), secrets.token_hex(16)
    sig = rsa_sign(keys.merchant_private, f"{method}\n{path}\n{ts}\n{nonce}\n{body}\n")
    return (
        f'WECHATPAY2-SHA256-RSA2048 mchid="{mchid}",nonce_str="{nonce}",'
        f'signature="{sig}",timestamp="{ts}",serial_no="{keys.merchant_serial}"'
    )


# --- WeChat Pay -----------------------------------------------------------------------------


class WeChatPay:
    name = "wechat"

    def __init__(
        self,
        *,
        mchid: str,
        app_id: str,
        keys: Keys,
        notify_url: str,
        base_url: str,
        timeout: float = 10.0,
    ) -> None:
        self.mchid, self.app_id, self.keys, self.notify_url = mchid, app_id, keys, notify_url
        self._client = httpx.AsyncClient(base_url=base_url, timeout=timeout)

    async def _post(self, path: str, payload: dict[str, Any]) -> dict[str, Any]:
        body = json.dumps(payload, separators=(",", ":"), ensure_ascii=False)
        try:
            resp = await self._client.post(
                path,
                content=body.encode(),
                headers={
                    "Authorization": authorization(self.keys, self.mchid, "POST", path, body),
                    "Content-Type": "application/json",
                    "Accept": "application/json",
                },
            )
        except httpx.HTTPError as exc:
            raise ProviderError(f"WeChat Pay unreachable: {exc!r}") from exc
        if resp.status_code >= 300:
            raise ProviderError(f"WeChat Pay {resp.status_code}: {resp.text[:300]}")
        return resp.json()  # type: ignore[no-any-return]

    async def prepay(self, request: PrepayRequest) -> JsapiParams:
        out = await self._post(
            "/v3/pay/transactions/jsapi",
            {
                "appid": self.app_id,
                "mchid": self.mchid,
                "description": request.description[:127],
                "out_trade_no": request.out_trade_no,
                "notify_url": self.notify_url,
                "amount": {"total": request.amount_fen, "currency": request.currency},
                "payer": {"openid": request.openid},
            },
        )
        return jsapi_params(self.keys, self.app_id, str(out["prepay_id"]))

    async def refund(self, request: RefundRequest) -> str:
        out = await self._post(
            "/v3/refund/domestic/refunds",
            {
                "out_trade_no": request.out_trade_no,
                "out_refund_no": request.out_refund_no,
                "amount": {
                    "refund": request.refund_fen,
                    "total": request.total_fen,
                    "currency": request.currency,
                },
            },
        )
        if out.get("status") not in ("SUCCESS", "PROCESSING"):
            raise ProviderError(f"refund refused: {out}")
        return str(out["refund_id"])

    def parse_notification(self, headers: Mapping[str, str], body: bytes) -> PaymentNotice:
        return verify_and_decrypt(self.keys, headers, body)

    async def aclose(self) -> None:
        await self._client.aclose()


def load_wechat_keys(
    private_key_file: Path,
    serial: str,
    platform_cert_file: Path,
    platform_serial: str,
    api_v3_key: str,
) -> Keys:
    private = serialization.load_pem_private_key(private_key_file.read_bytes(), password=None)
    pem = platform_cert_file.read_bytes()
    public = (
        x509.load_pem_x509_certificate(pem).public_key()
        if b"CERTIFICATE" in pem
        else serialization.load_pem_public_key(pem)
    )
    assert isinstance(private, rsa.RSAPrivateKey) and isinstance(public, rsa.RSAPublicKey)
    return Keys(private, serial, {platform_serial: public}, api_v3_key.encode())


# --- the sandbox ----------------------------------------------------------------------------

Poster = Callable[[str, dict[str, str], bytes], Awaitable[int]]


def sandbox_keys(data_dir: Path) -> tuple[Keys, rsa.RSAPrivateKey]:
    """Merchant and 'platform' keys of the sandbox, kept in the data dir so every process of an
    install (API processes, workers) verifies what any of them signed."""
    path = data_dir / "sandbox-pay.json"
    try:
        raw = json.loads(path.read_text())
    except FileNotFoundError:
        path.parent.mkdir(parents=True, exist_ok=True)

        def pem(key: rsa.RSAPrivateKey) -> str:
            return key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            ).decode()

        raw = {
            "merchant": pem(rsa.generate_private_key(65537, 2048)),
            "platform": pem(rsa.generate_private_key(65537, 2048)),
            "api_v3_key": secrets.token_hex(16),
        }
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(raw))
        tmp.chmod(0o600)
        os.replace(tmp, path)
        raw = json.loads(path.read_text())
    merchant = serialization.load_pem_private_key(raw["merchant"].encode(), password=None)
    platform = serialization.load_pem_private_key(raw["platform"].encode(), password=None)
    assert isinstance(merchant, rsa.RSAPrivateKey) and isinstance(platform, rsa.RSAPrivateKey)
    keys = Keys(
        merchant,
        "SANDBOX-MERCHANT",
        {"SANDBOX-PLATFORM": platform.public_key()},
        raw["api_v3_key"].encode(),
    )
    return keys, platform


def sign_notification(
    keys: Keys, platform_private: rsa.RSAPrivateKey, serial: str, notice: dict[str, Any]
) -> tuple[dict[str, str], bytes]:
    """Build a WeChat Pay v3 payment notification (used by the sandbox and by tests)."""
    nonce = secrets.token_hex(6)
    body = json.dumps(
        {
            "id": secrets.token_hex(8),
            "event_type": "TRANSACTION.SUCCESS",
            "resource_type": "encrypt-resource",
            "resource": {
                "algorithm": "AEAD_AES_256_GCM",
                "associated_data": "transaction",
                "nonce": nonce,
                "ciphertext": aes_gcm_encrypt(
                    keys.api_v3_key, nonce, "transaction", json.dumps(notice).encode()
                ),
            },
        },
        separators=(",", ":"),
    ).encode()
    ts, header_nonce = str(int(time.time())), secrets.token_hex(16)
    headers = {
        "Wechatpay-Timestamp": ts,
        "Wechatpay-Nonce": header_nonce,
        "Wechatpay-Serial": serial,
        "Wechatpay-Signature": rsa_sign(
            platform_private, f"{ts}\n{header_nonce}\n{body.decode()}\n"
        ),
        "Content-Type": "application/json",
    }
    return headers, body


class SandboxPay:
    name = "sandbox"
    app_id = "sandbox-app"

    def __init__(
        self,
        data_dir: Path,
        notify_path: str,
        poster: Poster | None = None,
        delay_seconds: float = 0.2,
    ) -> None:
        self.keys, self._platform = sandbox_keys(data_dir)
        self.notify_path = notify_path
        self.poster = poster
        self.delay = delay_seconds
        self._tasks: set[asyncio.Task[None]] = set()

    async def prepay(self, request: PrepayRequest) -> JsapiParams:
        params = jsapi_params(self.keys, self.app_id, f"sandbox-{request.out_trade_no}")
        task = asyncio.create_task(self._pay(request))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return params

    async def _pay(self, request: PrepayRequest) -> None:
        """The member 'pays': our webhook receives a signed notification, like from WeChat."""
        await asyncio.sleep(self.delay)
        headers, body = sign_notification(
            self.keys,
            self._platform,
            "SANDBOX-PLATFORM",
            {
                "out_trade_no": request.out_trade_no,
                "transaction_id": f"SBX{secrets.token_hex(10)}",
                "trade_state": "SUCCESS",
                "amount": {
                    "total": request.amount_fen,
                    "payer_total": request.amount_fen,
                    "currency": request.currency,
                },
            },
        )
        if self.poster is None:
            log.warning("sandbox payment for %s not delivered: no poster", request.out_trade_no)
            return
        for attempt in range(5):
            try:
                status = await self.poster(self.notify_path, headers, body)
                if status < 300:
                    return
            except Exception:  # noqa: BLE001 - retried like WeChat would
                log.exception("sandbox notification failed")
            await asyncio.sleep(0.5 * 2**attempt)

    async def refund(self, request: RefundRequest) -> str:
        return f"SBXR-{request.out_refund_no}"

    def parse_notification(self, headers: Mapping[str, str], body: bytes) -> PaymentNotice:
        return verify_and_decrypt(self.keys, headers, body)

    async def aclose(self) -> None:
        for task in list(self._tasks):
            task.cancel()
