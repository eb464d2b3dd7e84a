"""Where a session goes: the `replay`, `stepfun` and `openai` presets, and the API key.

The key comes from the environment, then Colab's secrets (only inside Colab), then a
`getpass` prompt (only when someone can answer it: never under nbval or CI). It is put in
the Authorization header and nowhere else: never printed, logged, recorded or shown in a repr.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

from .catalogue import default_model
from .personas import persona_for

__all__ = ["PROVIDERS", "Provider", "default_cassettes", "default_log_dir", "get_api_key", "get_provider", "repo_root"]


@dataclass(frozen=True)
class Provider:
    """A Realtime service: its WebSocket URL, default model, wire dialect and key names."""

    name: str
    url: str
    default_model: str
    dialect: str
    key_names: tuple[str, ...] = field(default=())

    def dialect_for(self, model: str) -> str:
        """The dialect this provider speaks for `model`."""
        if self.name != "replay":
            return self.dialect
        try:  # the replay server answers as the model's persona
            return persona_for(model).dialect
        except ValueError:  # a model no persona claims: the current (GA) dialect
            return "ga"


PROVIDERS = {
    "replay": Provider("replay", "", default_model("stepfun"), "beta"),  # the local replay server: no key
    "stepfun": Provider("stepfun", "wss://api.stepfun.com/v1/realtime", default_model("stepfun"), "beta",
                        ("STEPFUN_API_KEY", "STEP_API_KEY")),
    "openai": Provider("openai", "wss://api.openai.com/v1/realtime", default_model("openai"), "ga",
                       ("OPENAI_API_KEY",)),
}


def get_provider(name: str | Provider | None = None) -> Provider:
    """The preset called `name` (default: $REALTIME_PROVIDER, else "replay"); a `Provider` is returned as is."""
    if isinstance(name, Provider):
        return name
    name = (name or os.environ.get("REALTIME_PROVIDER") or "replay").lower()
    if name not in PROVIDERS:
        raise ValueError(f"unknown provider {name!r}; choose one of {', '.join(PROVIDERS)}")
    return PROVIDERS[name]


def get_api_key(provider: Provider) -> str | None:
    """Find the key for `provider`: environment, then Colab secrets, then an interactive prompt.

    None for a provider that needs no key (the replay server).
    """
    if not provider.key_names:
        return None
    for name in provider.key_names:
        if os.environ.get(name):
            return os.environ[name]
    key = _colab_secret(provider.key_names)
    if key:
        return key
    if _can_prompt():
        import getpass
        key = getpass.getpass(f"{provider.key_names[0]} (input hidden): ").strip()
        if key:
            return key
    raise RuntimeError(
        f"no API key for {provider.name}: set the environment variable {provider.key_names[0]}"
        f" (or a Colab secret of that name), or use provider='replay' to run offline")


def _colab_secret(names: tuple[str, ...]) -> str | None:
    if "google.colab" not in sys.modules:
        return None
    try:
        from google.colab import userdata
    except ImportError:
        return None
    for name in names:
        try:
            value = userdata.get(name)
        except Exception:  # SecretNotFoundError, NotebookAccessError
            continue
        if value:
            return value
    return None


def _can_prompt() -> bool:
    """True only when a person can answer a prompt: not in CI, not under nbval (no stdin)."""
    if os.environ.get("CI"):
        return False
    try:
        from IPython import get_ipython
        shell = get_ipython()
    except ImportError:
        shell = None
    kernel = getattr(shell, "kernel", None)
    if kernel is not None:
        return bool(getattr(kernel, "_allow_stdin", False))
    return sys.stdin is not None and sys.stdin.isatty()


def repo_root() -> Path:
    """The checkout this package sits in (media/, log/ and notebooks/ live there)."""
    return Path(__file__).resolve().parent.parent


def default_log_dir() -> Path:
    """$REALTIME_LOG_DIR, else log/ in the checkout (or in the working folder when installed)."""
    if os.environ.get("REALTIME_LOG_DIR"):
        return Path(os.environ["REALTIME_LOG_DIR"])
    root = repo_root()
    return root / "log" if (root / "log").is_dir() else Path.cwd() / "log"


def default_cassettes() -> Path:
    """$REALTIME_CASSETTES, else media/cassettes in the checkout."""
    return Path(os.environ.get("REALTIME_CASSETTES") or repo_root() / "media" / "cassettes")
