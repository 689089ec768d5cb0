"""`bundle build` refuses compiled wheels that the hardware it names cannot run."""

from __future__ import annotations

from pathlib import Path

import pytest

from firmware.errors import ExitCode
from firmware.update.platforms import arch_of, check_wheels_for, runs_on
from tests.update.test_update_cli import keys, run

PURE = "ringfence-1.2.0-py3-none-any.whl"
NUMPY_PI = "numpy-1.26.4-cp311-cp311-manylinux_2_17_aarch64.manylinux2014_aarch64.whl"
NUMPY_LAPTOP = "numpy-1.26.4-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl"
SOXR_PIWHEELS = "soxr-0.5.0-cp311-cp311-linux_aarch64.whl"
MUSL = "soxr-0.5.0-cp311-cp311-musllinux_1_1_aarch64.whl"
ARMV7 = "numpy-1.26.4-cp311-cp311-linux_armv7l.whl"


def wheels(directory: Path, *names: str) -> list[Path]:
    directory.mkdir(exist_ok=True)
    for name in names:
        (directory / name).write_bytes(b"PK\x05\x06" + bytes(18))  # an empty zip: only the name matters here
    return [directory / name for name in names]


@pytest.mark.parametrize(
    ("name", "fits"),
    [(PURE, True), (NUMPY_PI, True), (SOXR_PIWHEELS, True), (NUMPY_LAPTOP, False), (MUSL, False), (ARMV7, False)],
)
def test_which_wheels_run_on_a_64_bit_pi(name: str, fits: bool) -> None:
    assert runs_on(Path(name), "aarch64") is fits


def test_every_board_of_ours_is_aarch64_and_an_unknown_one_is_named() -> None:
    assert {arch_of(label) for label in ("rpi4-handset-v2", "rpi5-kiosk-v1", "cm4-handset-v3")} == {"aarch64"}
    with pytest.raises(ValueError, match="hardware beaglebone-handset-v1: unknown board 'beaglebone'"):
        check_wheels_for([Path(NUMPY_PI)], ["beaglebone-handset-v1"])


def test_pure_wheels_need_no_known_board() -> None:
    check_wheels_for([Path(PURE), Path("notes.txt")], ["bench-x86-v1"])


def test_bundle_build_refuses_laptop_wheels_for_a_pi_naming_each(tmp_path: Path) -> None:
    key, _ = keys(tmp_path)
    source = tmp_path / "wheels"
    wheels(source, PURE, NUMPY_LAPTOP, SOXR_PIWHEELS)
    out = tmp_path / "fw.rfb"
    code, _, err = run("bundle", "build", "--wheels", source, "-o", out, "--key", key, "--hardware", "rpi4-handset-v2")
    assert code == ExitCode.USAGE
    assert len(err.strip().splitlines()) == 1
    assert "rpi4-handset-v2 runs aarch64" in err and NUMPY_LAPTOP in err and SOXR_PIWHEELS not in err
    assert not out.exists() and "Traceback" not in err


def test_bundle_build_takes_aarch64_wheels_for_every_pi_named(tmp_path: Path) -> None:
    key, _ = keys(tmp_path)
    source = tmp_path / "wheels"
    wheels(source, PURE, NUMPY_PI, SOXR_PIWHEELS)
    out = tmp_path / "fw.rfb"
    code, stdout, err = run(
        "bundle",
        "build",
        "--wheels",
        source,
        "-o",
        out,
        "--key",
        key,
        "--hardware",
        "rpi4-handset-v2",
        "--hardware",
        "rpi5-kiosk-v1",
    )
    assert code == 0, err
    assert "ringfence 1.2.0 for rpi4-handset-v2, rpi5-kiosk-v1, 3 files" in stdout
