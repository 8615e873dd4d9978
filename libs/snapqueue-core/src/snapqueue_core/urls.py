"""Browser-facing URLs for variants: presigned GETs, or a CDN when one is configured."""

from __future__ import annotations

from typing import Any

from .aws import S3Client
from .schemas import StoredVariant
from .settings import CoreSettings


class VariantUrls:
    def __init__(self, s3_presign: S3Client, settings: CoreSettings) -> None:
        self._s3 = s3_presign
        self._bucket = settings.processed_bucket
        self._cdn = settings.cdn_base_url.rstrip("/") if settings.cdn_base_url else None
        self._expires = settings.variant_url_expires_seconds

    async def url_for(self, key: str) -> str:
        if self._cdn:
            return f"{self._cdn}/{key}"
        url: str = await self._s3.generate_presigned_url(
            "get_object",
            Params={"Bucket": self._bucket, "Key": key},
            ExpiresIn=self._expires,
        )
        return url

    async def render(self, variants: dict[str, StoredVariant]) -> dict[str, dict[str, Any]]:
        """The ``variants`` object of the public contract."""
        return {
            name: {
                "url": await self.url_for(variant.key),
                "width": variant.width,
                "height": variant.height,
                "contentType": variant.content_type,
                "bytes": variant.bytes,
            }
            for name, variant in variants.items()
        }
