"""The configuration: app.yaml plus `${VAR}` secrets from the environment, validated all at once.

`values` holds the value checks and annotated types, `sections` the pydantic models, `loading` reads and
validates a file, `show` prints it with secrets masked. This is the only package that reads the environment.
"""

from bot.config.loading import config_path, load_config, with_overrides
from bot.config.sections import (
    AlertsConfig,
    AppConfig,
    DatabaseConfig,
    Endpoints,
    LoggingConfig,
    M365Config,
    ProbesConfig,
    ProbeTargetConfig,
    ServerConfig,
    SlackConfig,
)
from bot.config.show import check_config_main, format_problems, masked, mode_lines
from bot.config.storage import database_warnings
from bot.config.values import DEFAULT_PATH, SECRET_KEYS

__all__ = [
    "DEFAULT_PATH",
    "SECRET_KEYS",
    "AlertsConfig",
    "AppConfig",
    "DatabaseConfig",
    "Endpoints",
    "LoggingConfig",
    "M365Config",
    "ProbeTargetConfig",
    "ProbesConfig",
    "ServerConfig",
    "SlackConfig",
    "check_config_main",
    "config_path",
    "database_warnings",
    "format_problems",
    "load_config",
    "masked",
    "mode_lines",
    "with_overrides",
]
