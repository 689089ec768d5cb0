"""Prompts ship as their own signed asset bundle: installed beside the slots, named by hash by the firmware that
needs them, refused when tampered with, and never half-installed by a kill."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np
import pytest
import soundfile

from firmware.errors import ExitCode
from firmware.prompts.catalog import Catalog, Prompt
from firmware.tech.home import DeviceHome
from firmware.update.assets import AssetStore, prompt_dir_for
from firmware.update.bundle import Refusal, read_header
from firmware.update.inventory import inventory
from firmware.update.keys import Keyring
from tests.update.conftest import HARDWARE, killed_at_checkpoint, wheel
from tests.update.test_update_cli import build_bundle, run

SAMPLES = (np.sin(np.arange(4000) / 3) * 9000).astype(np.int16)


@pytest.fixture
def key(tmp_path: Path) -> tuple[Path, Path]:
    key, ring = tmp_path / "vendor.key", tmp_path / "keyring.json"
    assert run("bundle", "keygen", key, "--keyring", ring)[0] == 0
    return key, ring


def prompt_audio(root: Path, samples: np.ndarray = SAMPLES) -> Path:
    for lang in ("en", "es"):
        (root / lang).mkdir(parents=True, exist_ok=True)
        soundfile.write(root / lang / "hello.flac", samples, 8000, format="FLAC", subtype="PCM_16")
    (root / "manifest.json").write_text(json.dumps({"hello": "rendered"}))
    return root


def app_wheel(directory: Path, version: str) -> Path:
    """A real, installable application wheel carrying its code and, as today's wheels do, the prompts' audio."""
    return wheel(
        directory,
        "ringfence",
        version,
        {
            "firmware/prompts/catalog.py": f"VERSION = {version!r}\n".encode(),
            "firmware/prompts/audio/en/hello.flac": os.urandom(20_000),
            "firmware/prompts/audio/manifest.json": b"{}",
        },
    )


def build_assets(tmp_path: Path, key: Path, version: str = "1.0.0", audio: Path | None = None) -> Path:
    out = tmp_path / f"prompts-{version}.rfb"
    audio_dir = audio or prompt_audio(tmp_path / "audio")
    stdout = build_bundle(out, key, "--assets", "prompts", "--assets-dir", audio_dir, "--version", version)
    assert "sha256" in stdout
    return out


def build_app(tmp_path: Path, key: Path, version: str, assets: Path) -> Path:
    out = tmp_path / f"fw-{version}.rfb"
    build_bundle(out, key, app_wheel(tmp_path / f"wheels-{version}", version), "--with-assets", assets)
    return out


def asset_hash(bundle: Path) -> str:
    with open(bundle, "rb") as stream:
        length = read_header(stream, str(bundle)).length
    return hashlib.sha256(bundle.read_bytes()[:length]).hexdigest()


def install(home: Path, bundle: Path) -> tuple[int, str, str]:
    return run("slot", "install", bundle, "--home", home, "--hardware", HARDWARE)


def new_home(tmp_path: Path, ring: Path) -> Path:
    home = DeviceHome(tmp_path / "device")
    home.etc.mkdir(parents=True)
    home.keyring_path.write_bytes(ring.read_bytes())
    return home.root


def test_assets_then_app_install_and_the_app_reads_its_prompts_from_the_set_named_by_hash(
    tmp_path: Path, key: tuple[Path, Path]
) -> None:
    assets = build_assets(tmp_path, key[0])
    app = build_app(tmp_path, key[0], "1.1.0", assets)
    home = new_home(tmp_path, key[1])
    code, out, err = install(home, assets)
    assert code == 0, err
    assert asset_hash(assets) in out
    code, _, err = install(home, app)
    assert code == 0, err
    lib = home / "slots" / "a" / "lib"
    assert (lib / "firmware" / "prompts" / "catalog.py").exists()
    assert not (lib / "firmware" / "prompts" / "audio").exists()  # the prompts came from the asset bundle only
    found = prompt_dir_for(lib / "firmware" / "prompts" / "catalog.py")
    assert found == home / "assets" / asset_hash(assets) / "prompts"
    catalog = Catalog({"hello": Prompt("hello", {"en": "Hello.", "es": "Hola."})}, found)
    assert np.array_equal(catalog.audio("hello", "es"), SAMPLES)


def test_in_a_source_tree_the_prompts_are_the_packages_own() -> None:
    import firmware.prompts.catalog as catalog_module

    assert prompt_dir_for(Path(catalog_module.__file__)) is None


def test_an_app_update_that_changes_no_prompt_carries_no_prompt_bytes(tmp_path: Path, key: tuple[Path, Path]) -> None:
    assets = build_assets(tmp_path, key[0])
    for version in ("1.1.0", "1.2.0"):
        app = build_app(tmp_path, key[0], version, assets)
        header, kinds = inventory(app)
        assert header.manifest.assets == asset_hash(assets)
        assert kinds.stored["assets"] == 0 and kinds.stored["code"] > 0
        assert b"hello.flac" not in app.read_bytes()
    code, out, _ = run("bundle", "info", assets)
    assert code == 0 and "kind        assets" in out and asset_hash(assets) in out
    assert "prompts+en+hello.flac" in out
    code, out, _ = run("bundle", "info", tmp_path / "fw-1.2.0.rfb")
    assert f"needs       assets {asset_hash(assets)}" in out


def test_an_app_whose_assets_are_not_installed_is_refused_before_any_slot_changes(
    tmp_path: Path, key: tuple[Path, Path]
) -> None:
    old_assets = build_assets(tmp_path / "old", key[0], "1.0.0")
    new_assets = build_assets(tmp_path, key[0], "1.1.0", prompt_audio(tmp_path / "audio2", SAMPLES[::-1].copy()))
    home = new_home(tmp_path, key[1])
    assert install(home, old_assets)[0] == 0
    code, _, err = install(home, build_app(tmp_path, key[0], "1.1.0", new_assets))
    assert code == ExitCode.REFUSED
    assert Refusal.MISSING_ASSETS.value in err and "not installed" in err
    assert not (home / "slots").exists()


def test_a_tampered_asset_bundle_is_refused_and_installs_nothing(tmp_path: Path, key: tuple[Path, Path]) -> None:
    assets = build_assets(tmp_path, key[0])
    data = bytearray(assets.read_bytes())
    data[-100] ^= 1
    assets.write_bytes(bytes(data))
    home = new_home(tmp_path, key[1])
    code, _, err = install(home, assets)
    assert code == ExitCode.REFUSED and "corrupt" in err
    assert AssetStore(home).active() is None


def test_an_asset_bundle_signed_by_an_untrusted_key_is_refused(tmp_path: Path, key: tuple[Path, Path]) -> None:
    other = tmp_path / "other.key"
    assert run("bundle", "keygen", other)[0] == 0
    home = new_home(tmp_path, key[1])
    code, _, err = install(home, build_assets(tmp_path, other))
    assert code == ExitCode.REFUSED and "does not trust" in err


def kill_install_at(root: Path, bundle: Path, keyring: Keyring, kill_at: int) -> None:
    killed_at_checkpoint(
        kill_at,
        lambda checkpoint: AssetStore(root, checkpoint=checkpoint, chunk=4096).install(bundle, keyring, HARDWARE),
    )


def test_a_kill_at_any_moment_of_an_asset_install_leaves_the_old_set_usable(
    tmp_path: Path, key: tuple[Path, Path]
) -> None:
    keyring = Keyring.load(key[1])
    old = build_assets(tmp_path / "old", key[0], "1.0.0")
    new = build_assets(tmp_path, key[0], "1.1.0", prompt_audio(tmp_path / "audio2", SAMPLES[::-1].copy()))
    seen: list[str] = []
    AssetStore(tmp_path / "count", checkpoint=seen.append, chunk=4096).install(new, keyring, HARDWARE)
    assert len(seen) > 4
    for kill_at in range(1, len(seen)):
        root = tmp_path / f"device-{kill_at}"
        AssetStore(root).install(old, keyring, HARDWARE)
        kill_install_at(root, new, keyring, kill_at)
        store = AssetStore(root)
        assert store.problem(asset_hash(old)) is None
        active = store.active()
        assert active is not None and active["sha256"] in (asset_hash(old), asset_hash(new))
        assert store.problem(active["sha256"]) is None
        assert store.install(new, keyring, HARDWARE) == (asset_hash(new), "1.1.0")  # and the retry completes


def test_an_older_asset_bundle_is_refused_like_older_firmware(tmp_path: Path, key: tuple[Path, Path]) -> None:
    home = new_home(tmp_path, key[1])
    assert install(home, build_assets(tmp_path, key[0], "1.1.0"))[0] == 0
    code, _, err = install(home, build_assets(tmp_path / "old", key[0], "1.0.0"))
    assert code == ExitCode.REFUSED and "older than installed 1.1.0" in err
