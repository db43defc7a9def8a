"""Where the command line keeps the server's URLs and the logged-in user's tokens."""

import json
import os
from pathlib import Path


def config_path() -> Path:
    """``$PARLEY_CONFIG``, else ``config.json`` in ``$XDG_CONFIG_HOME/parley`` (``~/.config/parley``)."""
    if os.environ.get("PARLEY_CONFIG"):
        return Path(os.environ["PARLEY_CONFIG"])
    config_home = os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config"
    return Path(config_home) / "parley" / "config.json"


def load_config() -> dict:
    try:
        return json.loads(config_path().read_text())
    except FileNotFoundError:
        return {}


def save_config(config: dict) -> None:
    path = config_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    # It holds tokens: readable by its owner only, from the moment it exists.
    with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as file:
        json.dump(config, file, indent=2)
