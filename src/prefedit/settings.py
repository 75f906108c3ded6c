"""The one settings object shared by library, CLI and server (environment prefix ``PREFEDIT_``).

Two roots: ``PREFEDIT_CACHE`` holds disposable caches (converted weights, key statistics, guard keys) and
``PREFEDIT_HOME`` holds user data (the store). Nothing is written anywhere else.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Environment-backed settings; read with :func:`get_settings`."""

    model_config = SettingsConfigDict(env_prefix="PREFEDIT_", extra="ignore")

    cache: Path = Field(default=Path("~/.cache/prefedit"), description="Disposable caches.")
    home: Path = Field(default=Path("~/.prefedit"), description="User data (the store).")
    admin_token: str | None = Field(default=None, description="Server admin token.")
    system_prompt: str | None = Field(
        default=None,
        description="System prompt the deployment answers with; edits are keyed under it (unset: prefedit's own).",
    )
    llm_base_url: str | None = Field(default=None, description="OpenAI-compatible endpoint.")
    llm_api_key: str | None = Field(default=None, description="API key for llm_base_url.")
    llm_model: str | None = Field(default=None, description="Model name at llm_base_url.")
    debug: bool = Field(default=False, description="Show tracebacks in the CLI.")
    no_progress: bool = Field(default=False, description="Disable progress bars.")

    @property
    def cache_dir(self) -> Path:
        return self.cache.expanduser()

    @property
    def home_dir(self) -> Path:
        return self.home.expanduser()


def get_settings(**overrides: object) -> Settings:
    """Read settings from the environment now (no caching, so tests can change it)."""
    return Settings(**overrides)  # type: ignore[arg-type]
