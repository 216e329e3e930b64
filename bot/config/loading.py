"""Loading: app.yaml read safely, `${VAR}` references resolved, everything validated together."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml
from pydantic import ValidationError
from pydantic_core import ErrorDetails
from yaml.constructor import ConstructorError

from bot.config.sections import AppConfig
from bot.config.values import DEFAULT_PATH, REF, SECRET_KEYS
from bot.errors import ConfigError


class _Loader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate keys (the second one would silently win)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if isinstance(key, str) and key in seen:
                raise ConstructorError(None, None, f"duplicate key {key!r}", key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep)


def config_path(path: str | Path | None = None, env: Mapping[str, str] | None = None) -> Path:
    """The file to load: `path`, else $APP_CONFIG, else ./app.yaml."""
    env = os.environ if env is None else env
    return Path(path or env.get("APP_CONFIG") or DEFAULT_PATH)


def load_config(path: str | Path | None = None, env: Mapping[str, str] | None = None) -> AppConfig:
    """Read, interpolate and validate the configuration; raise ConfigError listing every problem."""
    env = os.environ if env is None else env
    source = config_path(path, env)
    problems: list[str] = []
    text = _read_text(source)
    refs: dict[str, tuple[str, bool]] = {}
    data = _resolve(_read_yaml(text, source), "", env, problems, refs)
    problems += _hash_values(text)
    try:
        return _validated(data, problems, source)
    except ConfigError as err:
        raise ConfigError([_name_variable(problem, refs) for problem in err.problems]) from None


def _name_variable(problem: str, refs: dict[str, tuple[str, bool]]) -> str:
    """`key: ...` naming the environment variable the key reads, and saying so when that variable is unset."""
    key, sep, message = problem.partition(": ")
    if not sep or key not in refs:
        return problem
    name, is_set = refs[key]
    if is_set:
        return f"{key} (from ${name}): {message}"
    return f"{key} (from ${name}, which is not set): {message.replace(' (a ${VAR} reference)', '')}"


def _hash_values(text: str) -> list[str]:
    """Keys left empty by an unquoted value starting with `#`, which YAML reads as a comment."""
    problems = []

    def walk(node: yaml.Node, key: str) -> None:
        if isinstance(node, yaml.MappingNode):
            for k, v in node.value:
                dotted = f"{key}.{k.value}" if key else str(k.value)
                rest = lines[k.end_mark.line][k.end_mark.column:]
                if v.tag.endswith(":null") and not v.value and re.match(r":\s+#\S", rest):
                    value = rest.split("#", 1)[1].split()[0]
                    problems.append(f'{dotted}: #{value} is read as a YAML comment, leaving the key empty; '
                                    f'quote it: {k.value}: "#{value}"')
                walk(v, dotted)
        elif isinstance(node, yaml.SequenceNode):
            for i, v in enumerate(node.value):
                walk(v, f"{key}[{i}]")

    lines = text.splitlines()
    root = yaml.compose(text, Loader=_Loader)
    if root is not None:
        walk(root, "")
    return problems


def with_overrides(cfg: AppConfig, overrides: Mapping[str, Any]) -> AppConfig:
    """`cfg` re-validated with `overrides` deep-merged over what was configured (lists replace lists).

    How the sandbox plugs in its tenant, generated secret, endpoint URLs and CA bundle, in process. A
    None value unsets a key. Derived values (probes.smtp_host ...) are derived again.
    """
    return _validated(_merge(cfg.model_dump(exclude_unset=True), overrides), [], cfg.source)


def _validated(data: dict[str, Any], problems: list[str], source: Path | None) -> AppConfig:
    try:
        cfg = AppConfig.model_validate(_prune(data))
    except ValidationError as err:
        problems = problems + [f"{_dotted(e['loc'])}: {_message(e)}" for e in err.errors()]
        raise ConfigError(list(dict.fromkeys(problems))) from None
    if problems:
        raise ConfigError(problems)
    cfg._source = source
    return cfg


def _read_text(source: Path) -> str:
    try:
        return source.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError([f"{source}: no such file (pass another path or set APP_CONFIG)"]) from None
    except OSError as exc:
        raise ConfigError([f"{source}: cannot read: {exc.strerror}"]) from None


def _read_yaml(text: str, source: Path) -> dict[str, Any]:
    try:
        data = yaml.load(text, Loader=_Loader)  # _Loader is a SafeLoader
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        raise ConfigError([f"{source}: {where}{exc.problem}"]) from None
    except yaml.YAMLError as exc:
        raise ConfigError([f"{source}: {exc}"]) from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError([f"{source}: the top level must be a mapping of sections (m365:, slack:, ...)"])
    return data


def _resolve(node: Any, key: str, env: Mapping[str, str], problems: list[str],
             refs: dict[str, tuple[str, bool]]) -> Any:
    """Interpolate `${VAR}` and `${VAR:-default}` in every string; refuse secrets written in the file.

    `refs` gets, for each key set from one variable, that variable's name and whether it is set.
    """
    if isinstance(node, dict):
        return {k: _resolve(v, f"{key}.{k}" if key else str(k), env, problems, refs) for k, v in node.items()}
    if isinstance(node, list):
        return [_resolve(v, f"{key}[{i}]", env, problems, refs) for i, v in enumerate(node)]
    literal = node is not None and not (isinstance(node, str) and REF.fullmatch(node))
    if literal and re.sub(r"\[\d+\]", "[]", key) in SECRET_KEYS:
        problems.append(f"{key}: must be a ${{VAR}} reference, not a literal")
    if key == "database.url" and isinstance(node, str) and not REF.search(node) and urlsplit(node).password:
        problems.append(
            f"{key}: the password must come from the environment (${{DATABASE_URL}}), not the file"
        )
    if not isinstance(node, str):
        return node
    whole = REF.fullmatch(node)
    if whole:
        if whole.group(2) is None:
            refs[key] = (whole.group(1), bool(env.get(whole.group(1))))
        return _lookup(whole, env) or None

    def substitute(match: re.Match[str]) -> str:
        value = _lookup(match, env)
        if value is None:
            problems.append(f"{key}: environment variable {match.group(1)} is not set")
        return value or ""

    return REF.sub(substitute, node) or None


def _lookup(ref: re.Match[str], env: Mapping[str, str]) -> str | None:
    name, default = ref.groups()
    value = env.get(name)
    return default if default is not None and not value else value


def _merge(base: Any, over: Any) -> Any:
    if isinstance(base, dict) and isinstance(over, Mapping):
        merged = dict(base)
        for key, value in over.items():
            merged[key] = _merge(merged.get(key), value)
        return merged
    return over


def _prune(node: Any) -> Any:
    """Drop keys whose value is null (unset or empty after interpolation), so they take their defaults."""
    if isinstance(node, dict):
        return {k: _prune(v) for k, v in node.items() if v is not None}
    if isinstance(node, list):
        return [_prune(v) for v in node]
    return node


def _dotted(loc: tuple[str | int, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else f".{part}" if out else str(part)
    return out or "(top level)"


_PLAIN_MESSAGES = {
    "missing": "required",
    "extra_forbidden": "unknown key",
    "int_parsing": "must be a whole number",
    "int_type": "must be a whole number",
    "int_from_float": "must be a whole number",
    "float_parsing": "must be a number",
    "float_type": "must be a number",
    "bool_parsing": "must be true or false",
    "bool_type": "must be true or false",
    "string_type": "must be a string",
    "list_type": "must be a list",
    "model_type": "must be a mapping",
    "model_attributes_type": "must be a mapping",
    "dict_type": "must be a mapping",
    "path_type": "must be a path",
}


def _message(error: ErrorDetails) -> str:
    ctx = error.get("ctx") or {}
    if error["type"] == "value_error":
        return str(ctx["error"])
    for bound, sign in (("gt", ">"), ("ge", ">="), ("lt", "<"), ("le", "<=")):
        if bound in ctx:
            return f"must be {sign} {ctx[bound]:g}"
    return _PLAIN_MESSAGES.get(error["type"], error["msg"])
