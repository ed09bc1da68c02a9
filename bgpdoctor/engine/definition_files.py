"""Where check and playbook definitions live, and one of them found by id without loading them all.

`find_definition` is what `bgpdoctor explain` reads: only the files whose bytes contain the id are
validated, exactly as a full load validates them (engine.rules: the pydantic models and the fact
catalogue). A file's validated entries are kept in a cache keyed by the file's bytes and by the
validating code itself, so the next `explain` of anything in that file reads JSON and imports
neither pydantic nor Jinja. Nothing here imports pydantic: engine.rules is imported only to
validate a file the cache does not hold yet.

Example: find_definition("playbooks", "mtu-blackhole") -> {"id": "mtu-blackhole", "title": ...,
"source": ".../playbooks/mtu-blackhole.yaml", ...}
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import json
import os
import sys
from collections.abc import Iterator
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

from bgpdoctor import __version__
from bgpdoctor.errors import UsageError

# the code whose behaviour a validated entry depends on: a change to any of these is a new cache
_VALIDATORS = ("engine/rules.py", "engine/factrefs.py", "engine/facts.py", "safe_yaml.py", "errors.py")
_MAX_FILE_BYTES = 16 * 1024 * 1024  # safe_yaml.DEFAULT_LIMITS.max_bytes: larger files go to the validator


def project_root() -> Path:
    return Path(__file__).resolve().parents[2]


def builtin_data_dir(kind: str) -> tuple[Traversable | None, list[str]]:
    """The built-in folder of `kind` ("checks" or "playbooks"), and every place looked at.

    A checkout or an editable install reads the repository's top-level folder; an installed wheel
    (venv, --user, --target, --prefix, pipx) reads the copy shipped as package data,
    bgpdoctor/data/<kind> (see setup.py).
    """
    searched: list[str] = []
    root = project_root()
    checkout = root / kind
    if (root / "pyproject.toml").is_file() and checkout.is_dir():
        return checkout, [str(checkout)]
    searched.append(f"{checkout} (no checkout)")
    import importlib.resources

    shipped = importlib.resources.files("bgpdoctor") / "data" / kind
    if shipped.is_dir():
        return shipped, [*searched, str(shipped)]
    return None, [*searched, f"{shipped} (missing)"]


def user_dirs(kind: str, extra: list[str] | None) -> list[Path]:
    """User folders of `kind`: $BGPDOCTOR_CHECKS / $BGPDOCTOR_PLAYBOOKS, then --checks / --playbooks."""
    env = os.environ.get(f"BGPDOCTOR_{kind.upper()}", "")
    return [Path(p) for p in [*env.split(os.pathsep), *(extra or [])] if p]


def data_dirs(kind: str, extra: list[str] | None = None) -> list[Traversable]:
    """Built-in data folder plus user folders (BGPDOCTOR_CHECKS / BGPDOCTOR_PLAYBOOKS, --checks)."""
    builtin, _searched = builtin_data_dir(kind)
    return [*([builtin] if builtin is not None else []), *user_dirs(kind, extra)]


def definition_files(kind: str, extra: list[str] | None) -> tuple[list[Traversable], list[str]]:
    """Every YAML file of `kind` in load order (a later file's id replaces an earlier one's), and
    the places searched. A user folder that does not exist is a UsageError."""
    builtin, searched = builtin_data_dir(kind)
    folders: list[Traversable] = [builtin] if builtin is not None else []
    for user_folder in user_dirs(kind, extra):
        if not user_folder.is_dir():
            raise UsageError(f"{user_folder}: no such folder of {kind}")
        folders.append(user_folder)
        searched.append(str(user_folder))
    files = [
        path
        for folder in folders
        for path in sorted((f for f in folder.iterdir() if f.name.endswith(".yaml")), key=lambda f: f.name)
    ]
    return files, searched


def find_definition(kind: str, item_id: str, extra: list[str] | None = None) -> dict[str, Any] | None:
    """The validated definition of `kind` with this id as a full load would give it (its fields,
    defaults filled, `source` the file), or None when no file of `kind` defines it literally.

    Only files whose bytes contain the id are read further. A YAML escape that spells the id
    differently ("mtu\\x2dblackhole") is not seen here: the caller falls back to the full load.
    """
    files, _searched = definition_files(kind, extra)
    needle = item_id.encode()
    found: dict[str, Any] | None = None
    for path in files:
        data = read_small(path)
        if data is not None and needle not in data:
            continue
        for entry in _validated_entries(kind, path, data):
            if entry.get("id") == item_id:
                found = entry
    return found


def read_small(path: Traversable) -> bytes | None:
    """The file's bytes, or None when it is too large to scan (the validator refuses it with its
    own message) or cannot be read (likewise)."""
    try:
        if isinstance(path, Path) and path.stat().st_size > _MAX_FILE_BYTES:
            return None
        return path.read_bytes()
    except OSError:
        return None


def _validated_entries(kind: str, path: Traversable, data: bytes | None) -> list[dict[str, Any]]:
    cached = cached_entries(kind, path, data)
    if cached is not None:
        return cached
    from bgpdoctor.engine.rules import load_definition_file

    return [item.model_dump(mode="json") for item in load_definition_file(kind, path)]


def cached_entries(kind: str, path: Traversable, data: bytes | None) -> list[dict[str, Any]] | None:
    """The entries a full validation of this file (these bytes) gave before, or None."""
    return _cache_read(_cache_key(kind, path, data)) if data is not None else None


def store_entries(kind: str, path: Traversable, data: bytes | None, entries: list[dict[str, Any]]) -> None:
    """Keep a file's validated entries (JSON, as `model_dump(mode="json")` gives them)."""
    if data is not None:
        _cache_write(_cache_key(kind, path, data), entries)


def _cache_key(kind: str, path: Traversable, data: bytes) -> str:
    digest = hashlib.blake2b(digest_size=20)
    for part in (_validator_fingerprint(), kind.encode(), str(path).encode(), data):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()


_fingerprint: bytes | None = None


def _validator_fingerprint() -> bytes:
    """The validating code's identity: bgpdoctor's validator sources, the versions of pydantic, Jinja
    (templates are parsed for the facts they read) and PyYAML, and Python's."""
    global _fingerprint
    if _fingerprint is None:
        digest = hashlib.blake2b(f"{__version__} {sys.version}".encode(), digest_size=20)
        package = Path(__file__).resolve().parents[1]
        sources = [package / name for name in _VALIDATORS]
        for module, version_file in (
            ("pydantic", "version.py"),
            ("jinja2", "__init__.py"),
            ("yaml", "__init__.py"),
        ):
            spec = importlib.util.find_spec(module)
            if spec is not None and spec.origin:
                sources.append(Path(spec.origin).parent / version_file)
        for source in sources:
            with contextlib.suppress(OSError):
                digest.update(source.read_bytes())
        _fingerprint = digest.digest()
    return _fingerprint


def cache_dir() -> Path:
    """$XDG_CACHE_HOME/bgpdoctor/definitions (default ~/.cache/bgpdoctor/definitions)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "bgpdoctor" / "definitions"


def _cache_read(key: str) -> list[dict[str, Any]] | None:
    try:
        entries = json.loads((cache_dir() / f"{key}.json").read_bytes())
    except (OSError, ValueError):
        return None
    if not isinstance(entries, list) or not all(isinstance(e, dict) and "id" in e for e in entries):
        return None
    return entries


def _cache_write(key: str, entries: list[dict[str, Any]]) -> None:
    """Best effort and atomic: an unwritable cache only means the next explain validates again."""
    import tempfile

    folder = cache_dir()
    with contextlib.suppress(OSError):
        folder.mkdir(parents=True, exist_ok=True)
        fd, temp = tempfile.mkstemp(dir=folder, suffix=".tmp")
        with _removed_on_error(temp), os.fdopen(fd, "w") as f:
            json.dump(entries, f)
        os.replace(temp, folder / f"{key}.json")


@contextlib.contextmanager
def _removed_on_error(path: str) -> Iterator[None]:
    try:
        yield
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(path)
        raise


def explained_definition(
    item_id: str, extra_checks: list[str] | None = None, extra_playbooks: list[str] | None = None
) -> tuple[str, dict[str, Any]]:
    """("checks", the check) or ("playbooks", the root cause) with this id, a check first, as
    `bgpdoctor explain` shows it. The ids it names (a check's root causes, the checks a playbook
    explains) must exist, as a run requires. Raises UsageError for an unknown id.

    Example: explained_definition("mtu-blackhole") -> ("playbooks", {"id": "mtu-blackhole", ...})
    """
    extra = {"checks": extra_checks, "playbooks": extra_playbooks}
    kinds = ("checks", "playbooks")
    found = {kind: find_definition(kind, item_id, extra[kind]) for kind in kinds}
    if not any(found.values()):
        found = {kind: _fully_loaded(kind, item_id, extra[kind]) for kind in kinds}
    for kind in kinds:
        entry = found[kind]
        if entry is None:
            continue
        other, field, words = (
            ("playbooks", "root_causes", "names an unknown root cause")
            if kind == "checks"
            else ("checks", "explains", "explains an unknown check")
        )
        for ref in entry.get(field, []):
            if find_definition(other, ref, extra[other]) is None and not _fully_loaded(
                other, ref, extra[other]
            ):
                raise UsageError(f"{entry['source']}: {kind[:-1]} {item_id} {words} '{ref}'")
        return kind, entry
    raise UsageError(
        f"no check or root cause with id '{item_id}' (see `bgpdoctor checks list`, `bgpdoctor causes`)"
    )


def _fully_loaded(kind: str, item_id: str, extra: list[str] | None) -> dict[str, Any] | None:
    """The full load's answer (its errors too: no definitions at all, a broken file) for an id no
    file spells literally."""
    from bgpdoctor.engine.rules import load_checks, load_playbooks

    items = load_checks(extra) if kind == "checks" else load_playbooks(extra)
    return next((i.model_dump(mode="json") for i in items if i.id == item_id), None)
