"""What the bundle leaves out, the installer files, the icons: checked without building."""

from __future__ import annotations

import configparser
import plistlib
import re
import struct
from pathlib import Path

import pytest

from installers import bundle_config as cfg
from installers.entry import arguments
from installers.make_icons import ICNS_TYPES, ICO_SIZES, icns, ico, render_png

ROOT = Path(__file__).resolve().parents[2]
RESOURCES = ROOT / "resources"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def png_size(data: bytes) -> tuple[int, int]:
    assert data.startswith(PNG_MAGIC), "not a PNG"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


# --- what is excluded ------------------------------------------------------------------

def test_nothing_the_app_imports_is_excluded() -> None:
    excluded, _kept = cfg.excludes()
    imported = cfg.app_imports()
    assert "PySide6.QtWidgets" in imported and "PySide6.QtWidgets" not in excluded
    assert sorted(set(excluded) & imported) == []


def test_an_imported_library_keeps_what_it_requires() -> None:
    excluded, kept = cfg.excludes(imported={"sklearn.ensemble"})
    assert {"sklearn", "joblib", "threadpoolctl"} <= set(kept)
    # scipy is required too, but its unused subpackages stay out
    assert "scipy.io" in excluded and "scipy.signal" in excluded


def test_without_the_import_the_library_is_excluded() -> None:
    excluded, kept = cfg.excludes(imported={"numpy"})
    assert {"sklearn", "joblib", "threadpoolctl", "PySide6.QtQml"} <= set(excluded)
    assert kept == []


def test_a_submodule_import_keeps_its_excluded_parent() -> None:
    excluded, kept = cfg.excludes(imported={"scipy.signal.windows"})
    assert "scipy.signal" in kept and "scipy.signal" not in excluded


def test_app_imports_reads_absolute_imports_only(tmp_path: Path) -> None:
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "a.py").write_text("import x.y\nfrom z.w import v\nfrom . import sibling\n"
                                  "def f():\n    import lazy\n")
    assert cfg.app_imports(package) == {"x", "x.y", "z", "z.w", "z.w.v", "lazy"}


def test_app_imports_names_a_file_that_does_not_parse(tmp_path: Path) -> None:
    (tmp_path / "broken.py").write_text("import (\n")
    with pytest.raises(SyntaxError, match=r"broken\.py"):
        cfg.app_imports(tmp_path)


def test_unused_plugins_go_with_the_libraries_only_they_need() -> None:
    plugin = "PySide6/Qt/plugins/platformthemes/libqgtk3.so"
    xcb = "PySide6/Qt/plugins/platforms/libqxcb.so"
    binaries = [(plugin, "/src/gtk3", "BINARY"), (xcb, "/src/xcb", "BINARY"),
                ("libcairo.so.2", "/src/cairo", "BINARY"),
                ("libglib-2.0.so.0", "/src/glib", "BINARY")]
    links = {"/src/gtk3": {"libcairo.so.2", "libglib-2.0.so.0", "libgtk-3.so.0"},
             "/src/xcb": {"libglib-2.0.so.0"}, "/src/cairo": set(), "/src/glib": set()}
    kept, dropped = cfg.prune_binaries(binaries, links.__getitem__)
    assert [entry[0] for entry in kept] == [xcb, "libglib-2.0.so.0"]
    assert dropped == [plugin, "libcairo.so.2"]


def test_prune_keeps_everything_without_unused_plugins() -> None:
    binaries = [("PySide6/Qt/plugins/platforms/libqoffscreen.so", "/src/off", "BINARY")]
    assert cfg.prune_binaries(binaries, lambda _src: set()) == (binaries, [])


@pytest.mark.parametrize(("dest", "unused"), [
    ("PySide6/Qt/translations/qtbase_de.qm", False),
    ("PySide6/Qt/translations/qtdeclarative_de.qm", True),
    ("PySide6/Qt/qml/QtQuick/qmldir", True),
    ("examples/quadratic/__pycache__/train.cpython-311.pyc", True),
    ("app/store/migrations/env.py", False),
])
def test_unused_data_files(dest: str, unused: bool) -> None:
    assert cfg.unused_file(dest) is unused


def test_the_data_the_bundle_copies_exists() -> None:
    missing = [source for source, _dest in cfg.DATA if not (ROOT / source).exists()]
    assert missing == []
    assert re.fullmatch(r"\d+\.\d+\.\d+.*", cfg.version())


# --- the bundled entry point -------------------------------------------------------------

@pytest.mark.parametrize(("argv", "expected"), [
    (["--smoke"], ["gui", "--smoke"]),
    (["--demo", "--db", "x"], ["gui", "--demo", "--db", "x"]),
    ([], []),
    (["--help"], ["--help"]),
    (["run", "e.yaml"], ["run", "e.yaml"]),
])
def test_options_without_a_command_go_to_the_app(argv: list[str], expected: list[str]) -> None:
    assert arguments(argv) == expected


# --- installer files -----------------------------------------------------------------------

def test_desktop_entry_starts_sweeplab_with_its_icon() -> None:
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read(ROOT / "installers" / "linux" / "sweeplab.desktop", encoding="utf-8")
    entry = parser["Desktop Entry"]
    assert (entry["Type"], entry["Exec"], entry["Icon"]) == ("Application", "sweeplab", "sweeplab")
    assert entry["Categories"].endswith(";")


def test_info_plist_names_the_app() -> None:
    with (ROOT / "installers" / "macos" / "Info.plist").open("rb") as file:
        info = plistlib.load(file)
    assert info["CFBundleName"] == "Sweeplab"
    assert info["CFBundleIconFile"] == "sweeplab.icns"
    assert info["NSHighResolutionCapable"] is True


def test_inno_setup_script_points_at_real_files() -> None:
    iss = (ROOT / "installers" / "windows" / "sweeplab.iss").read_text(encoding="utf-8")
    icon = re.search(r"^SetupIconFile=(.+)$", iss, re.M)
    assert icon, "no SetupIconFile line"
    assert (ROOT / "installers" / "windows" / icon.group(1).replace("\\", "/")).is_file()
    assert r'Source: "..\..\dist\sweeplab\*"' in iss
    assert "sweeplab-gui.exe" in iss


# --- icons (rendered with pytest-qt's QApplication: render_png would otherwise make a
# QGuiApplication, which the widget tests later in this process cannot use) ----------------

def test_the_committed_png_icon_is_256_px() -> None:
    assert png_size((RESOURCES / "sweeplab.png").read_bytes()) == (256, 256)


def test_the_committed_ico_holds_every_size() -> None:
    data = (RESOURCES / "sweeplab.ico").read_bytes()
    reserved, kind, count = struct.unpack("<HHH", data[:6])
    assert (reserved, kind, count) == (0, 1, len(ICO_SIZES))
    for index, size in enumerate(ICO_SIZES):
        width, _h, _c, _r, _p, _b, length, offset = struct.unpack(
            "<BBBBHHII", data[6 + 16 * index: 22 + 16 * index])
        assert width == (0 if size == 256 else size)
        assert png_size(data[offset:offset + length]) == (size, size)


def test_the_committed_icns_is_well_formed() -> None:
    data = (RESOURCES / "sweeplab.icns").read_bytes()
    assert data[:4] == b"icns"
    assert struct.unpack(">I", data[4:8])[0] == len(data)
    position, kinds = 8, []
    while position < len(data):
        kind, length = data[position:position + 4], struct.unpack(
            ">I", data[position + 4:position + 8])[0]
        assert png_size(data[position + 8:position + length]) == (ICNS_TYPES[kind],) * 2
        kinds.append(kind)
        position += length
    assert position == len(data)
    assert kinds == list(ICNS_TYPES)


def test_rendering_and_packing_round_trip(qapp: object) -> None:
    png = render_png(RESOURCES / "sweeplab.svg", 32)
    assert png_size(png) == (32, 32)
    assert ico({32: png})[22:] == png
    assert icns({b"icp5": png})[16:] == png


def test_an_svg_qt_cannot_read_is_named(qapp: object, tmp_path: Path) -> None:
    bad = tmp_path / "bad.svg"
    bad.write_text("<svg")
    with pytest.raises(ValueError, match=r"bad\.svg"):
        render_png(bad, 16)


def test_prune_follows_libraries_that_load_each_other() -> None:
    # direct links only (as on macOS and Windows): the plugin loads pango, pango loads cairo
    plugin = "PySide6/Qt/plugins/platformthemes/libqgtk3.so"
    binaries = [(plugin, "/src/gtk3", "BINARY"), ("libpango.so", "/src/pango", "BINARY"),
                ("libcairo.so", "/src/cairo", "BINARY"), ("libQt6Gui.so", "/src/gui", "BINARY")]
    links = {"/src/gtk3": {"libpango.so"}, "/src/pango": {"libcairo.so"},
             "/src/cairo": set(), "/src/gui": set()}
    kept, dropped = cfg.prune_binaries(binaries, links.__getitem__)
    assert [entry[0] for entry in kept] == ["libQt6Gui.so"]
    assert dropped == [plugin, "libpango.so", "libcairo.so"]
