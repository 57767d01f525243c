"""Built-in pipelines ship inside the package and resolve by name from any directory; pipelines/NAME.yml
beside the config overrides one. The checkout's pipelines/ and the package's copy are one source of truth."""

from __future__ import annotations

from pathlib import Path

import pytest

from daemon import actions
from daemon.errors import PipelineError
from daemon.pipeline.loader import BUILTIN_PIPELINES, find_workflow, load_workflow

ROOT = Path(__file__).resolve().parents[2]


def test_the_checkout_and_the_package_hold_the_same_pipelines() -> None:
    checkout = {p.name: p.read_bytes() for p in (ROOT / "pipelines").glob("*.yml")}
    packaged = {p.name: p.read_bytes() for p in BUILTIN_PIPELINES.glob("*.yml")}
    assert packaged, "no pipeline ships in the package"
    assert sorted(checkout) == sorted(packaged)
    for name, text in checkout.items():
        assert packaged[name] == text, f"pipelines/{name} changed: copy it to daemon/pipelines/{name}"


def test_pyproject_ships_them_as_package_data() -> None:
    assert '"daemon" = ["pipelines/*.yml"]' in (ROOT / "pyproject.toml").read_text()


def test_a_name_resolves_from_any_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    found = find_workflow("microkws", tmp_path / "pipelines")  # no such folder here
    assert found == BUILTIN_PIPELINES / "microkws.yml"
    assert load_workflow(found, actions.ACTIONS).name == "microkws"


def test_a_pipeline_beside_the_config_overrides_the_built_in(tmp_path: Path) -> None:
    (tmp_path / "microkws.yml").write_text("name: mine\njobs:\n  a:\n    steps:\n      - run: true\n")
    assert find_workflow("microkws", tmp_path) == tmp_path / "microkws.yml"


def test_an_unknown_name_lists_what_there_is(tmp_path: Path) -> None:
    (tmp_path / "lab.yml").write_text("jobs: {}\n")
    with pytest.raises(PipelineError, match=r"no pipeline named 'nope'.*known: lab, microkws.*--pipeline"):
        find_workflow("nope", tmp_path)


def test_steps_are_named_by_name_action_or_id_never_a_cut_command(tmp_path: Path) -> None:
    wf = tmp_path / "wf.yml"
    wf.write_text("jobs:\n  a:\n    steps:\n"
                  "      - name: Compile it\n        run: make\n"
                  "      - uses: benchd/inspect\n"
                  "      - id: smoke\n        run: tvmc run \"$BENCHD_WORKSPACE/module.tar\" --fill-mode random\n"
                  "      - run: tvmc compile \"$BENCHD_MODEL\" --target llvm --output \"$BENCHD_WORKSPACE/m.tar\"\n")
    steps = load_workflow(wf, actions.ACTIONS).jobs["a"].steps
    assert [s.name for s in steps] == ["Compile it", "benchd/inspect", "smoke",
                                       'run: tvmc compile "$BENCHD_MODEL" --target…']
