"""pyproject names the packages it ships (resources/ is mapped into the core package, which
setuptools' package finder cannot do): every package folder of core/ and app/ must be named,
and resources/ must be core.resources, or the wheel silently lacks it."""

from __future__ import annotations

import tomllib

from tests.conftest import REPO


def test_every_package_folder_is_shipped() -> None:
    config = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
    on_disk = {".".join(init.parent.relative_to(REPO).parts)
               for top in ("core", "app") for init in (REPO / top).rglob("__init__.py")}
    assert on_disk, "no packages found"
    assert set(config["packages"]) == on_disk | {"core.resources"}
    assert config["package-dir"] == {"core.resources": "resources"}
    assert (REPO / "resources" / "models" / "default.onnx").is_file()


def test_resources_are_found_in_a_checkout() -> None:
    from core.paths import bundled_model_path, resources_dir

    assert resources_dir() == REPO / "resources"
    assert bundled_model_path().is_file()
