"""The one packaging step pyproject.toml cannot express.

checks/ and playbooks/ stay at the top of the repository, their single source. Building a wheel
copies their YAML into the package as bgpdoctor/data/checks/ and bgpdoctor/data/playbooks/, where
bgpdoctor.engine.rules finds them with importlib.resources in every install scheme (venv, --user,
--target, --prefix, pipx). An editable install reads the repository folders directly.
"""

from __future__ import annotations

from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
DATA_KINDS = ("checks", "playbooks")


class BuildPyWithData(build_py):
    def _data_copies(self) -> list[tuple[Path, Path]]:
        if self.editable_mode:
            return []
        target = Path(self.build_lib) / "bgpdoctor" / "data"
        return [
            (source, target / kind / source.name)
            for kind in DATA_KINDS
            for source in sorted((ROOT / kind).glob("*.yaml"))
        ]

    def run(self) -> None:
        super().run()
        copies = self._data_copies()
        if not self.editable_mode and not copies:
            raise SystemExit(f"no YAML found in {', '.join(str(ROOT / k) for k in DATA_KINDS)}")
        for source, target in copies:
            self.mkpath(str(target.parent))
            self.copy_file(str(source), str(target))

    def get_outputs(self, include_bytecode: bool = True) -> list[str]:
        return [*super().get_outputs(include_bytecode), *(str(t) for _s, t in self._data_copies())]


setup(cmdclass={"build_py": BuildPyWithData})
