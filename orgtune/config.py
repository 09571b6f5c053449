"""The one configuration object, built from the environment in one place.

Nothing else in orgtune reads ``os.environ`` for settings: entry points call
:func:`Config.from_env` once and pass the object (or values from it) down.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from urllib.parse import urlparse

from orgtune import defaults


@dataclass(frozen=True)
class Config:
    """Runtime settings. Secrets are excluded from ``repr`` so they never reach logs."""

    slack_bot_token: str | None = field(default=None, repr=False)
    """SLACK_BOT_TOKEN: the bot's xoxb- token; needed by the bot and by workers that post."""

    slack_signing_secret: str | None = field(default=None, repr=False)
    """SLACK_SIGNING_SECRET: verifies that HTTP requests come from Slack."""

    slack_app_token: str | None = field(default=None, repr=False)
    """SLACK_APP_TOKEN: xapp- token; when set, `orgtune serve` uses Socket Mode."""

    slack_api_url: str = defaults.SLACK_API_URL
    """SLACK_API_URL: Web API base URL (the local emulator in tests and the demo)."""

    redis_url: str | None = None
    """REDIS_URL: where RQ queues live; required by the bot and workers."""

    data_dir: Path = Path(defaults.DATA_DIR)
    """ORGTUNE_DATA_DIR: SQLite database (by default) and artifacts (documents, adapters)."""

    database_url_override: str | None = None
    """DATABASE_URL: SQLAlchemy URL; defaults to SQLite inside the data directory."""

    team_id: str | None = None
    """ORGTUNE_TEAM_ID: workspace id the command line uses when --team is not given."""

    port: int = defaults.HTTP_PORT
    """PORT: HTTP port for `orgtune serve`."""

    web_workers: int = defaults.WEB_WORKERS
    """ORGTUNE_WEB_WORKERS: gunicorn worker processes for `orgtune serve` in HTTP mode. WEB_CONCURRENCY
    is deliberately not read: platforms set it from memory for typical web apps, not for a bot."""

    log_level: str = "INFO"
    """ORGTUNE_LOG_LEVEL: Python logging level name."""

    extra_file_hosts: tuple[str, ...] = ()
    """ORGTUNE_SLACK_FILE_HOSTS: comma-separated extra file hosts a download may be redirected to, which
    never receive the bot token (``*.example.com`` allows subdomains); the emulator's presigned host."""

    models_dir_override: Path | None = None
    """ORGTUNE_MODELS_DIR: local model weights (<dir>/mistral, <dir>/qwen); default <data_dir>/models."""

    answer_model: str = defaults.DEFAULT_ANSWER_MODEL
    """ORGTUNE_ANSWER_MODEL: base model answering in channels that have no trained adapter yet."""

    allow_cpu_training: bool = False
    """ORGTUNE_ALLOW_CPU_TRAINING: let a worker without a GPU train mistral/qwen (very slow)."""

    torch_compile: bool = True
    """ORGTUNE_TORCH_COMPILE=0: don't torch.compile decoder layers on GPU (1.5-2x faster training, ~20 s warm-up)."""

    artifacts_dir_override: Path | None = None
    """ORGTUNE_ARTIFACTS_DIR: documents, adapters, exports; a shared mount when workers run on several hosts."""

    inference_url: str | None = None
    """ORGTUNE_INFERENCE_URL: an OpenAI-compatible server with runtime LoRA loading (vLLM --enable-lora)
    that answers instead of the local transformers engine, e.g. http://gpu-1:8000/v1."""

    inference_api_key: str | None = field(default=None, repr=False)
    """ORGTUNE_INFERENCE_API_KEY: bearer token for that server, if it wants one."""

    facts_per_document: int | None = None
    """ORGTUNE_FACTS_PER_DOCUMENT: how many facts per document a training run asks about (each in several
    phrasings), instead of the model's own budget; the demo uses a small one so it finishes in minutes."""

    teacher_url: str | None = None
    """ORGTUNE_TEACHER_URL: an OpenAI-compatible server (any /v1/chat/completions) whose model writes extra
    training questions from each section, every one checked against the document, e.g. http://gpu-1:8000/v1."""

    teacher_model: str | None = None
    """ORGTUNE_TEACHER_MODEL: the model the teacher server is asked for; unset means whatever it serves first."""

    teacher_api_key: str | None = field(default=None, repr=False)
    """ORGTUNE_TEACHER_API_KEY: bearer token for the teacher server, if it wants one."""

    startup_wait_s: float = defaults.STARTUP_WAIT_S
    """ORGTUNE_STARTUP_WAIT_S: how long `orgtune serve` and `orgtune worker` wait at start for the database
    to answer and to be at this release's migration (`orgtune db upgrade`) before exiting non-zero."""

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Config:
        """Build the configuration from ``environ`` (``os.environ`` when omitted)."""
        env = os.environ if environ is None else environ

        def get(name: str) -> str | None:
            value = env.get(name, "").strip()
            return value or None

        hosts = tuple(h.strip().lower() for h in (get("ORGTUNE_SLACK_FILE_HOSTS") or "").split(",") if h.strip())
        port = get("PORT")
        return cls(
            slack_bot_token=get("SLACK_BOT_TOKEN"),
            slack_signing_secret=get("SLACK_SIGNING_SECRET"),
            slack_app_token=get("SLACK_APP_TOKEN"),
            slack_api_url=_with_slash(get("SLACK_API_URL") or defaults.SLACK_API_URL),
            redis_url=get("REDIS_URL"),
            data_dir=Path(get("ORGTUNE_DATA_DIR") or defaults.DATA_DIR),
            database_url_override=get("DATABASE_URL"),
            team_id=get("ORGTUNE_TEAM_ID"),
            port=int(port) if port else defaults.HTTP_PORT,
            web_workers=int(w) if (w := get("ORGTUNE_WEB_WORKERS")) else defaults.WEB_WORKERS,
            log_level=(get("ORGTUNE_LOG_LEVEL") or "INFO").upper(),
            extra_file_hosts=hosts,
            models_dir_override=Path(m) if (m := get("ORGTUNE_MODELS_DIR")) else None,
            allow_cpu_training=(get("ORGTUNE_ALLOW_CPU_TRAINING") or "").lower() in ("1", "true", "yes"),
            answer_model=get("ORGTUNE_ANSWER_MODEL") or defaults.DEFAULT_ANSWER_MODEL,
            torch_compile=(get("ORGTUNE_TORCH_COMPILE") or "1").lower() not in ("0", "false", "no"),
            artifacts_dir_override=Path(a) if (a := get("ORGTUNE_ARTIFACTS_DIR")) else None,
            inference_url=get("ORGTUNE_INFERENCE_URL"),
            inference_api_key=get("ORGTUNE_INFERENCE_API_KEY"),
            facts_per_document=int(f) if (f := get("ORGTUNE_FACTS_PER_DOCUMENT")) else None,
            teacher_url=get("ORGTUNE_TEACHER_URL"),
            teacher_model=get("ORGTUNE_TEACHER_MODEL"),
            teacher_api_key=get("ORGTUNE_TEACHER_API_KEY"),
            startup_wait_s=float(s) if (s := get("ORGTUNE_STARTUP_WAIT_S")) else defaults.STARTUP_WAIT_S,
        )

    def with_(self, **changes: object) -> Config:
        """A copy with some fields changed (used by the demo and tests)."""
        return replace(self, **changes)  # type: ignore[arg-type]

    @property
    def database_url(self) -> str:
        """The SQLAlchemy URL: DATABASE_URL, or SQLite at ``<data_dir>/orgtune.db``."""
        if self.database_url_override:
            url = self.database_url_override
            # Heroku-style URLs say postgres://; SQLAlchemy 2 wants postgresql+psycopg://.
            if url.startswith("postgres://"):
                url = "postgresql+psycopg://" + url[len("postgres://") :]
            elif url.startswith("postgresql://"):
                url = "postgresql+psycopg://" + url[len("postgresql://") :]
            return url
        return f"sqlite:///{(self.data_dir / 'orgtune.db').resolve()}"

    @property
    def artifacts_dir(self) -> Path:
        """Where documents, adapters and checkpoints are written (shareable between hosts)."""
        return self.artifacts_dir_override or self.data_dir / "artifacts"

    @property
    def models_dir(self) -> Path:
        """Where base model weights are looked up (and smollm2's converted weights cached)."""
        return self.models_dir_override or self.data_dir / "models"

    @property
    def slack_api_host(self) -> str:
        return (urlparse(self.slack_api_url).hostname or "").lower()

    @property
    def talks_to_real_slack(self) -> bool:
        """True unless SLACK_API_URL points elsewhere (the emulator): only then are Slack's own file hosts allowed."""
        return self.slack_api_host == "slack.com" or self.slack_api_host.endswith(".slack.com")

    @property
    def slack_token_hosts(self) -> frozenset[str]:
        """Hosts (``*.`` = any subdomain) that get the bot token when downloading ``url_private``.

        Real Slack serves files from files.slack.com and may hop within *.slack.com;
        the emulator serves them from its own host. A file URL on any other host is
        refused, so a crafted event can never make the bot send its token elsewhere.
        """
        hosts = {self.slack_api_host}
        if self.talks_to_real_slack:
            hosts.update(defaults.SLACK_TOKEN_FILE_HOSTS)
        return frozenset(h for h in hosts if h)

    @property
    def slack_tokenless_hosts(self) -> frozenset[str]:
        """Slack file hosts a download may be redirected to, which never get the token (presigned links)."""
        hosts = set(self.extra_file_hosts)
        if self.talks_to_real_slack:
            hosts.update(defaults.SLACK_TOKENLESS_FILE_HOSTS)
        return frozenset(h for h in hosts if h)

    @property
    def slack_file_hosts(self) -> frozenset[str]:
        """Every host a download may touch: :attr:`slack_token_hosts` and :attr:`slack_tokenless_hosts`."""
        return self.slack_token_hosts | self.slack_tokenless_hosts

    def to_env(self) -> dict[str, str]:
        """Environment variables that rebuild this configuration in a child process."""
        pairs = {
            "SLACK_BOT_TOKEN": self.slack_bot_token,
            "SLACK_SIGNING_SECRET": self.slack_signing_secret,
            "SLACK_APP_TOKEN": self.slack_app_token,
            "SLACK_API_URL": self.slack_api_url,
            "REDIS_URL": self.redis_url,
            "ORGTUNE_DATA_DIR": str(self.data_dir),
            "DATABASE_URL": self.database_url_override,
            "ORGTUNE_TEAM_ID": self.team_id,
            "PORT": str(self.port),
            "ORGTUNE_WEB_WORKERS": str(self.web_workers) if self.web_workers != defaults.WEB_WORKERS else None,
            "ORGTUNE_LOG_LEVEL": self.log_level,
            "ORGTUNE_SLACK_FILE_HOSTS": ",".join(self.extra_file_hosts),
            "ORGTUNE_MODELS_DIR": str(self.models_dir_override) if self.models_dir_override else None,
            "ORGTUNE_ALLOW_CPU_TRAINING": "1" if self.allow_cpu_training else None,
            "ORGTUNE_ANSWER_MODEL": self.answer_model,
            "ORGTUNE_TORCH_COMPILE": None if self.torch_compile else "0",
            "ORGTUNE_ARTIFACTS_DIR": str(self.artifacts_dir_override) if self.artifacts_dir_override else None,
            "ORGTUNE_INFERENCE_URL": self.inference_url,
            "ORGTUNE_INFERENCE_API_KEY": self.inference_api_key,
            "ORGTUNE_FACTS_PER_DOCUMENT": str(self.facts_per_document) if self.facts_per_document else None,
            "ORGTUNE_TEACHER_URL": self.teacher_url,
            "ORGTUNE_TEACHER_MODEL": self.teacher_model,
            "ORGTUNE_TEACHER_API_KEY": self.teacher_api_key,
            "ORGTUNE_STARTUP_WAIT_S": (
                str(self.startup_wait_s) if self.startup_wait_s != defaults.STARTUP_WAIT_S else None
            ),
        }
        return {k: v for k, v in pairs.items() if v}

    def require(self, *names: str) -> None:
        """Raise ConfigError naming every missing setting among ``names`` (field names)."""
        missing = [n for n in names if not getattr(self, n)]
        if missing:
            env_names = ", ".join(n.upper() for n in missing)
            raise ConfigError(f"Missing configuration: set {env_names} in the environment.")


class ConfigError(RuntimeError):
    """A required setting is missing or invalid; the message says which and how to fix it."""


def _with_slash(url: str) -> str:
    return url if url.endswith("/") else url + "/"
