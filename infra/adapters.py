"""Builds the adapters of the outside services from settings (real ones, or the sandbox)."""

from __future__ import annotations

from domain.drops.storage import LocalMediaStore, MediaStore, S3MediaStore
from domain.drops.uploads import SizeLimits
from domain.identity.wechat import DevWeChatLogin, HttpWeChatLogin, WeChatLogin
from domain.notifications.wechat import (
    HttpSubscribeMessages,
    SandboxSubscribeMessages,
    SubscribeMessages,
)
from domain.payments.provider import (
    PaymentProvider,
    Poster,
    SandboxPay,
    WeChatPay,
    load_wechat_keys,
)
from infra.config import Settings

NOTIFY_PATH = "/payments/wechat/notify"


def make_wechat_login(settings: Settings) -> WeChatLogin:
    if settings.wechat_app_id and settings.wechat_app_secret:
        return HttpWeChatLogin(
            settings.wechat_app_id,
            settings.wechat_app_secret,
            settings.wechat_api_base,
            timeout=settings.wechat_timeout_seconds,
        )
    if settings.is_dev:
        return DevWeChatLogin()
    raise RuntimeError("WeChat login is not configured (C2M_WECHAT_APP_ID / C2M_WECHAT_APP_SECRET)")


def make_subscribe_messages(settings: Settings) -> SubscribeMessages:
    if settings.wechat_app_id and settings.wechat_app_secret:
        return HttpSubscribeMessages(
            settings.wechat_app_id,
            settings.wechat_app_secret,
            settings.wechat_api_base,
            timeout=settings.wechat_timeout_seconds,
        )
    return SandboxSubscribeMessages()


def make_payment_provider(settings: Settings, poster: Poster | None = None) -> PaymentProvider:
    if settings.payments == "wechat":
        if not (settings.wechatpay_private_key_file and settings.wechatpay_platform_cert_file):
            raise RuntimeError("C2M_PAYMENTS=wechat needs the merchant key and platform cert")
        keys = load_wechat_keys(
            settings.wechatpay_private_key_file,
            settings.wechatpay_cert_serial or "",
            settings.wechatpay_platform_cert_file,
            settings.wechatpay_platform_serial or "",
            settings.wechatpay_apiv3_key or "",
        )
        return WeChatPay(
            mchid=settings.wechatpay_mchid or "",
            app_id=settings.wechat_app_id or "",
            keys=keys,
            notify_url=f"{settings.public_url}{NOTIFY_PATH}",
            base_url=settings.wechatpay_api_base,
        )
    return SandboxPay(settings.data_dir, NOTIFY_PATH, poster)


def make_media_store(settings: Settings) -> MediaStore:
    if settings.s3_bucket:
        return S3MediaStore(
            settings.s3_endpoint or "",
            settings.s3_bucket,
            settings.s3_access_key or "",
            settings.s3_secret_key or "",
            region=settings.s3_region,
            secure=settings.s3_secure,
            public_base_url=settings.s3_public_base_url,
        )
    return LocalMediaStore(
        settings.data_dir / "media-store", settings.jwt_secret, settings.public_url
    )


def media_limits(settings: Settings) -> SizeLimits:
    return SizeLimits(settings.media_max_image_bytes, settings.media_max_video_bytes)
