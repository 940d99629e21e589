"""The curriculum manifest: its rules, and agreement with the folders on disk."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_tinytorch.manifest import ManifestError, load

ROOT = Path(__file__).resolve().parents[1]
CURRICULUM = load(ROOT)


def test_every_kata_has_a_folder_and_every_folder_a_kata():
    folders = sorted(p.name for p in (ROOT / "katas").iterdir() if p.is_dir() and p.name[:2].isdigit())
    assert folders == [kata.name for kata in CURRICULUM.katas]


@pytest.mark.parametrize("kata", CURRICULUM.katas, ids=lambda k: k.name)
def test_each_kata_has_tests_a_readme_and_its_modules(kata):
    assert CURRICULUM.test_files(kata), f"katas/{kata.name} has no test_*.py"
    assert (CURRICULUM.folder(kata) / "README.md").exists()
    for module in kata.modules:
        assert (ROOT / "reference" / "tinytorch" / module).exists(), module
        assert (ROOT / "tinytorch" / module).exists(), module


def test_a_module_belongs_to_one_kata():
    modules = [m for kata in CURRICULUM.katas for m in kata.modules]
    assert len(modules) == len(set(modules))


def test_lookup_by_any_alias():
    first = CURRICULUM.katas[0]
    for alias in (first.id, first.id.lstrip("0"), first.name, first.slug, first.slug.upper()):
        assert CURRICULUM.find(alias) is first


@pytest.mark.parametrize("change, problem", [
    (('id = "02"', 'id = "01"'), "duplicate id"),
    (('prerequisites = ["01"]', 'prerequisites = ["03"]'), "do not come earlier"),
    (('tier = "Architecture"', 'tier = "Expert"'), "tier must be one of"),
    (('hints = ["Only beta hint."]', "hints = []"), "at least one hint"),
    (('slug = "beta"\n', ""), "lacks slug"),
    (('given = "01"', 'prebuilt = "01"'), "track later: unknown prebuilt; a track has katas and given"),
])
def test_an_inconsistent_manifest_is_a_clear_error(project, change, problem):
    path = project.path / "katas" / "manifest.toml"
    path.write_text(path.read_text().replace(*change, 1))
    with pytest.raises(ManifestError, match=problem):
        load(project.path)


def test_a_broken_manifest_stops_pytest_with_a_usage_error(project):
    (project.path / "katas" / "manifest.toml").write_text("[[kata]\n")
    result = project.run()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*manifest.toml is not valid TOML*"])
