"""Machine translation servers behind one small protocol.

`LibreTranslate` speaks the API of https://libretranslate.com (and of compatible servers:
`POST /translate`, `POST /detect`, `GET /languages`). Another service (DeepL, say) only needs a
class with the same three methods; `make_translator` picks one from the settings.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import httpx

from market.settings import Settings


class TranslatorError(Exception):
    """The server could not be reached or gave an answer we cannot use."""


class PermanentTranslatorError(TranslatorError):
    """The server refused the request itself (an unsupported language, say): trying again
    later gives the same answer."""


@dataclass(frozen=True)
class Translated:
    text: str
    # The source language: the one given, or the one the server detected ("" if unknown).
    source: str


class Translator(Protocol):
    async def translate(
        self, texts: Sequence[str], source: str | None, target: str
    ) -> list[Translated]:
        """`texts` into `target`; `source` None lets the server detect it per text."""
        ...

    async def detect(self, text: str) -> str | None:
        """The language code of `text`, or None if the server cannot tell."""
        ...

    async def languages(self) -> list[str]:
        """The language codes the server translates."""
        ...


class LibreTranslate:
    def __init__(self, url: str, api_key: str | None = None, timeout: float = 30.0) -> None:
        self.url = url.rstrip("/")
        self.api_key = api_key
        # The callers' own deadlines (asyncio.timeout) are shorter on pages; this one only
        # bounds background jobs.
        self.timeout = timeout

    async def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        if body is not None and self.api_key:
            body = {**body, "api_key": self.api_key}
        try:
            async with httpx.AsyncClient(timeout=self.timeout) as client:
                response = await client.request(method, self.url + path, json=body)
        except httpx.HTTPError as exc:
            raise TranslatorError(f"{path}: {type(exc).__name__}: {exc}") from exc
        if 400 <= response.status_code < 500 and response.status_code != 429:
            raise PermanentTranslatorError(f"{path}: {response.status_code} {response.text[:200]}")
        if response.status_code >= 300:
            raise TranslatorError(f"{path}: {response.status_code}")
        try:
            return response.json()
        except ValueError as exc:
            raise TranslatorError(f"{path}: the answer is not JSON") from exc

    async def translate(
        self, texts: Sequence[str], source: str | None, target: str
    ) -> list[Translated]:
        if not texts:
            return []
        data = await self._call(
            "POST",
            "/translate",
            {"q": list(texts), "source": source or "auto", "target": target, "format": "text"},
        )
        if not isinstance(data, dict):
            raise TranslatorError("/translate: unexpected answer")
        out = data.get("translatedText")
        if not isinstance(out, list) or len(out) != len(texts):
            raise TranslatorError("/translate: the answer does not match the question")
        detected = data.get("detectedLanguage")
        sources = detected if isinstance(detected, list) else [detected] * len(texts)
        return [
            Translated(str(text), source or _language_of(found))
            for text, found in zip(out, sources, strict=False)
        ]

    async def detect(self, text: str) -> str | None:
        data = await self._call("POST", "/detect", {"q": text})
        if isinstance(data, list) and data:
            return _language_of(max(data, key=lambda d: float(d.get("confidence", 0))))
        return None

    async def languages(self) -> list[str]:
        data = await self._call("GET", "/languages")
        if not isinstance(data, list):
            raise TranslatorError("/languages: unexpected answer")
        return [str(item["code"]) for item in data if isinstance(item, dict) and "code" in item]


def _language_of(found: object) -> str:
    if isinstance(found, dict):
        return str(found.get("language") or "")
    return ""


def make_translator(settings: Settings | None) -> Translator | None:
    """The configured translator, or None when ANLAUF_TRANSLATE_URL is unset."""
    if settings is None or not settings.translate_url:
        return None
    return LibreTranslate(settings.translate_url, settings.translate_api_key)
