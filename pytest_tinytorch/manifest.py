"""The curriculum manifest: one ordered list of katas in ``katas/manifest.toml``.

Everything else finds a kata by name from here: its folder is ``katas/<id>_<slug>/``, the
student's modules are ``tinytorch/<module>`` and the reference modules are
``reference/tinytorch/<module>``.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

MANIFEST = Path("katas") / "manifest.toml"
TIERS = ("Foundation", "Architecture", "Optimization", "Capstone")
TRACK_KEYS = ("katas", "given")


class ManifestError(Exception):
    """The manifest is missing, malformed or inconsistent."""


@dataclass(frozen=True)
class Kata:
    """One kata: an ordered set of test files for one module of the framework."""

    id: str
    slug: str
    title: str
    tier: str
    summary: str
    prerequisites: tuple[str, ...]
    timeout: float
    points: int
    modules: tuple[str, ...]
    hints: tuple[str, ...]
    timeout_advice: str
    reflect: tuple[str, ...] = field(default=())

    @property
    def name(self) -> str:
        """The folder name, e.g. ``01_tensor``."""
        return f"{self.id}_{self.slug}"

    @property
    def label(self) -> str:
        """How the kata is named in messages, e.g. ``01 Tensor``."""
        return f"{self.id} {self.title}"


@dataclass(frozen=True)
class Track:
    """One of the paper's configurations: the katas a student builds, and those given.

    ``given`` katas are not built by the student: their modules are imported from the
    reference solution ("build what you're learning, import what you need").
    """

    name: str
    katas: tuple[str, ...]
    given: tuple[str, ...] = ()


@dataclass(frozen=True)
class Curriculum:
    """The ordered katas of a project rooted at ``root``."""

    root: Path
    katas: tuple[Kata, ...]
    tracks: dict[str, Track] = field(default_factory=dict)

    def kata_range(self, text: str) -> tuple[str, ...]:
        """Ids of the katas in a range such as ``01-13``, ``14`` or ``01-04,09``."""
        return kata_range(self.katas, text)

    def only(self, ids: tuple[str, ...]) -> Curriculum:
        """The same curriculum restricted to the katas ``ids`` (a track's scope)."""
        return Curriculum(self.root, tuple(k for k in self.katas if k.id in ids), self.tracks)

    def track(self, name: str) -> Track:
        try:
            return self.tracks[name.strip().lower()]
        except KeyError:
            raise ManifestError(f"unknown track {name!r}; tracks are: "
                                f"{', '.join(self.tracks)}") from None

    @property
    def katas_dir(self) -> Path:
        return self.root / "katas"

    def folder(self, kata: Kata) -> Path:
        return self.katas_dir / kata.name

    def get(self, kata_id: str) -> Kata:
        for kata in self.katas:
            if kata.id == kata_id:
                return kata
        raise KeyError(kata_id)

    def find(self, query: str) -> Kata:
        """Look a kata up as ``09``, ``9``, ``09_spatial`` or ``spatial``."""
        wanted = query.strip().lower()
        for kata in self.katas:
            aliases = {kata.id, kata.id.lstrip("0"), kata.name, kata.slug}
            if wanted in aliases:
                return kata
        valid = ", ".join(kata.name for kata in self.katas)
        raise ManifestError(f"unknown kata {query!r}; valid katas are: {valid}")

    def kata_of_path(self, path: Path) -> Kata | None:
        """The kata whose folder contains ``path``, if any."""
        try:
            relative = path.resolve().relative_to(self.katas_dir.resolve())
        except ValueError:
            return None
        if not relative.parts:
            return None
        for kata in self.katas:
            if kata.name == relative.parts[0]:
                return kata
        return None

    def kata_of_module(self, module: str) -> Kata | None:
        """The kata that asks the student to write ``module`` (e.g. ``core/tensor.py``)."""
        for kata in self.katas:
            if module in kata.modules:
                return kata
        return None

    def unlocks(self, kata: Kata) -> list[Kata]:
        """Katas that name ``kata`` as a direct prerequisite."""
        return [other for other in self.katas if kata.id in other.prerequisites]

    def with_prerequisites(self, kata: Kata) -> list[Kata]:
        """``kata`` and everything it builds on, in curriculum order."""
        needed = {kata.id}
        for other in reversed(self.katas):
            if other.id in needed:
                needed.update(other.prerequisites)
        return [other for other in self.katas if other.id in needed]

    def test_files(self, kata: Kata) -> list[Path]:
        return sorted(self.folder(kata).glob("test_*.py"))


def load(root: Path) -> Curriculum:
    """Read and validate ``katas/manifest.toml`` under ``root``."""
    path = root / MANIFEST
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ManifestError(f"no curriculum manifest at {path}") from None
    except tomllib.TOMLDecodeError as error:
        raise ManifestError(f"{path} is not valid TOML: {error}") from None
    entries = data.get("kata")
    if not isinstance(entries, list) or not entries:
        raise ManifestError(f"{path} lists no [[kata]] entries")
    katas = tuple(_parse(entry, path) for entry in entries)
    _validate(katas, path)
    tracks = {name: _track(name, spec, katas, path) for name, spec in data.get("tracks", {}).items()}
    return Curriculum(root=root, katas=katas, tracks=tracks)


def _track(name: str, spec: dict, katas: tuple[Kata, ...], path: Path) -> Track:
    """One ``[tracks.NAME]`` table. A key it does not know is an error, not silently nothing
    given (``prebuilt``, the key's older name, among them)."""
    if unknown := sorted(set(spec) - set(TRACK_KEYS)):
        raise ManifestError(f"{path}: track {name}: unknown {', '.join(unknown)}; a track has "
                            f"{' and '.join(TRACK_KEYS)}")
    return Track(name, kata_range(katas, str(spec.get("katas", ""))),
                 kata_range(katas, str(spec["given"])) if "given" in spec else ())


def kata_range(katas: tuple[Kata, ...], text: str) -> tuple[str, ...]:
    """Ids of ``katas`` in a range such as ``01-13``, ``14`` or ``01-04,09``, in order."""
    chosen: set[str] = set()
    for part in text.replace(" ", "").split(","):
        low, _, high = part.partition("-")
        if not (low.isdigit() and (high.isdigit() or not high)):
            raise ManifestError(f"{text!r} is not a kata range such as 01-13")
        first, last = int(low), int(high or low)
        chosen.update(k.id for k in katas if first <= int(k.id) <= last)
    return tuple(k.id for k in katas if k.id in chosen)


def _parse(entry: dict, path: Path) -> Kata:
    required = ("id", "slug", "title", "tier", "summary", "timeout", "points", "modules", "hints",
                "timeout_advice")
    missing = [key for key in required if key not in entry]
    if missing:
        raise ManifestError(f"{path}: kata {entry.get('id', '?')} lacks {', '.join(missing)}")
    return Kata(
        id=str(entry["id"]),
        slug=str(entry["slug"]),
        title=str(entry["title"]),
        tier=str(entry["tier"]),
        summary=str(entry["summary"]).strip(),
        prerequisites=tuple(str(p) for p in entry.get("prerequisites", [])),
        timeout=float(entry["timeout"]),
        points=int(entry["points"]),
        modules=tuple(entry["modules"]),
        hints=tuple(str(h).strip() for h in entry["hints"]),
        timeout_advice=str(entry["timeout_advice"]).strip(),
        reflect=tuple(str(q).strip() for q in entry.get("reflect", [])),
    )


def _validate(katas: tuple[Kata, ...], path: Path) -> None:
    seen: list[str] = []
    for kata in katas:
        problem = None
        if kata.id in seen:
            problem = "duplicate id"
        elif not (len(kata.id) == 2 and kata.id.isdigit()):
            problem = "id must be two digits"
        elif seen and int(kata.id) <= int(seen[-1]):
            problem = "ids must increase in manifest order"
        elif kata.tier not in TIERS:
            problem = f"tier must be one of {', '.join(TIERS)}"
        elif unknown := [p for p in kata.prerequisites if p not in seen]:
            problem = f"prerequisites {unknown} do not come earlier in the manifest"
        elif not kata.hints:
            problem = "needs at least one hint"
        elif kata.timeout <= 0 or kata.points < 0:
            problem = "timeout must be positive and points not negative"
        if problem:
            raise ManifestError(f"{path}: kata {kata.id} ({kata.slug}): {problem}")
        seen.append(kata.id)
