"""A/B slots: install into the inactive slot, verify it there, switch atomically, keep it only once it is healthy.

Layout under the slot root (on the Pi, /opt/ringfence):

    slots/a/   slots/b/     one installed firmware copy each: the bundle's files and its signed manifest
    current -> slots/a      the slot the service starts; switched with os.replace of a fresh link
    boot.json               the boot state, the single source of truth; written whole and atomically
    boot.copy.json          the same state, written after boot.json: read when boot.json is missing or damaged

The boot state names the last good slot, an optional trial slot and the trial's start count. Each start of
the service runs `boot()` first: it counts a start of the trial slot, and once a trial has used up its starts
without being marked good it marks it bad and goes back to the good slot by itself. Because the link is
re-derived from the state at every boot, a kill between any two steps leaves a device that starts either its
good slot or a fully verified trial slot, never a half-written one.

A damaged boot.json (a card that lost a block, a truncated write outside our control) is not fatal: the copy,
at most one step older, is used. With both damaged the state is rebuilt from the slots themselves: the linked
slot, if its files match its manifest, is started on trial, and the other intact slot is its fallback. Only when
no slot is intact does the device refuse to start, with one line saying why.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from firmware.files import BUNDLE_HEADER_FILE, CURRENT_LINK, SLOTS_DIR
from firmware.update.assets import AssetStore
from firmware.update.boot_choice import BootChoice
from firmware.update.boot_state import (
    BOOT_STATE,
    BOOT_STATE_COPY,
    SLOTS,
    BootState,
    SlotError,
    SlotName,
    SlotRecord,
    other,
    read_state,
    write_state,
)
from firmware.update.bundle import (
    CHUNK,
    BundleError,
    Header,
    Refusal,
    check_target,
    open_stored,
    parse_header,
    verify,
)
from firmware.update.durable import fsync_dir, replace_file
from firmware.update.floor import VersionFloor
from firmware.update.keys import Keyring, KeyringError

SLOT_MANIFEST = BUNDLE_HEADER_FILE
Checkpoint = Callable[[str], None]
Audit = Callable[[str, dict[str, Any]], object]  # what it returns (an entry id) is not used


@dataclass(frozen=True)
class InstallResult:
    slot: SlotName
    version: str
    previous: str | None


def _no_checkpoint(_: str) -> None:
    return None


def _no_audit(_kind: str, _detail: dict[str, Any]) -> None:
    return None


class SlotManager(BootChoice):
    def __init__(
        self,
        root: Path,
        checkpoint: Checkpoint | None = None,
        audit: Audit | None = None,
        chunk: int = CHUNK,
    ) -> None:
        self.root = root
        self.chunk = chunk
        self.state_path = root / BOOT_STATE
        self.copy_path = root / BOOT_STATE_COPY
        #: Set by `load` when boot.json could not be used as it was: one line saying what was done instead.
        self.recovery: str | None = None
        self.current = root / CURRENT_LINK
        self.checkpoint = checkpoint or _no_checkpoint
        self.audit = audit or _no_audit

    # -- state ---------------------------------------------------------------------------------------------

    def load(self) -> BootState:
        """The boot state from boot.json, else from its copy, else rebuilt from intact slots (see above)."""
        self.recovery = None
        state, problem = read_state(self.state_path)
        if state is not None:
            return state
        copy, copy_problem = read_state(self.copy_path)
        if copy is not None:
            if problem != "missing":
                self.recovery = f"{self.state_path}: {problem}; using its copy {self.copy_path.name}"
            return copy
        rebuilt = self._rebuild()
        if rebuilt is None:
            if problem == copy_problem == "missing":
                return BootState()  # a new device: nothing installed yet
            raise SlotError(
                f"{self.state_path}: {problem}, its copy: {copy_problem}, and no slot is intact: reinstall the firmware"
            )
        self.recovery = (
            f"{self.state_path}: {problem}, its copy: {copy_problem}; rebuilt from the slots "
            f"(good {rebuilt.good}, trial {rebuilt.trial})"
        )
        return rebuilt

    def _rebuild(self) -> BootState | None:
        """A state from the slots on disk: the linked slot on trial, the other intact one as its fallback."""
        intact: dict[SlotName, SlotRecord] = {}
        for slot in SLOTS:
            if self.verify_slot(slot, SlotRecord()) is None:
                header_bytes = (self.slot_dir(slot) / SLOT_MANIFEST).read_bytes()
                intact[slot] = SlotRecord(
                    status="verified",
                    version=parse_header(header_bytes).manifest.version,
                    header_sha256=hashlib.sha256(header_bytes).hexdigest(),
                )
        if not intact:
            return None
        state = BootState()
        state.slots.update(intact)
        linked = self.linked_slot()
        first: SlotName = linked if linked in intact else next(iter(intact))
        if other(first) in intact:
            state.good, state.trial = other(first), first
            state.slots[other(first)].status = "good"
        else:
            state.good = first
            state.slots[first].status = "good"
        return state

    def save(self, state: BootState) -> None:
        write_state(self.root, state)

    def slot_dir(self, slot: SlotName) -> Path:
        return self.root / SLOTS_DIR / slot

    def linked_slot(self) -> SlotName | None:
        try:
            target = os.readlink(self.current)
        except OSError:
            return None
        name = Path(target).name
        return name if name in SLOTS else None

    def _link(self, slot: SlotName) -> None:
        """Point `current` at the slot in one atomic rename; a reader sees the old or the new link, never none."""
        if self.linked_slot() == slot:
            return
        tmp = self.root / f"{CURRENT_LINK}.tmp"
        tmp.unlink(missing_ok=True)
        os.symlink(Path(SLOTS_DIR) / slot, tmp)
        os.replace(tmp, self.current)
        fsync_dir(self.root)

    # -- checks --------------------------------------------------------------------------------------------

    def read_header(self, slot: SlotName) -> Header:
        return parse_header((self.slot_dir(slot) / SLOT_MANIFEST).read_bytes())

    def verify_slot(self, slot: SlotName, record: SlotRecord | None = None) -> str | None:
        """Read every file back and compare with the signed manifest kept in the slot; None when all match."""
        record = record or self.load().slots[slot]
        directory = self.slot_dir(slot)
        try:
            header_bytes = (directory / SLOT_MANIFEST).read_bytes()
            header = parse_header(header_bytes)
        except (OSError, BundleError) as exc:
            return f"slot {slot}: manifest missing or damaged ({exc})"
        if record.header_sha256 is not None and hashlib.sha256(header_bytes).hexdigest() != record.header_sha256:
            return f"slot {slot}: manifest is not the one that was installed"
        for f in header.manifest.files:
            path = directory / f.name
            digest = hashlib.sha256()
            try:
                with open(path, "rb") as src:
                    while block := src.read(CHUNK):
                        digest.update(block)
            except OSError:
                return f"slot {slot}: {f.name} is missing"
            if digest.hexdigest() != f.sha256:
                return f"slot {slot}: {f.name} does not match its SHA-256"
        return None

    # -- install -------------------------------------------------------------------------------------------

    def install(
        self,
        bundle: Path,
        keyring: Keyring,
        hardware: str | None,
        allow_downgrade: bool = False,
        prepare: Callable[[Path, Header], None] | None = None,
        keyring_path: Path | None = None,
        permit: Any | None = None,
        device_id: str | None = None,
    ) -> InstallResult:
        """Verify the bundle, write it into the inactive slot, read it back, and make it the trial slot. Key
        rotations the bundle carries are saved to `keyring_path` (fsynced, directory too) before the slot is
        activated, so a kill at any moment never leaves new firmware with a keyring that refuses its key."""
        state = self.load()
        if state.trial is not None:
            raise SlotError(
                f"slot {state.trial} is still on trial; start it and let it be marked good, or roll back first"
            )
        installed = state.slots[state.good].version if state.good else None
        if state.good is not None:
            self._finish_retirements(state.good, keyring)
        header = verify(bundle, keyring, hardware, installed, allow_downgrade)
        VersionFloor(self.root).check(header.manifest, keyring, device_id, permit)
        AssetStore(self.root).require(header)
        self.checkpoint("verified")
        target: SlotName = other(state.good) if state.good else "a"
        state.slots[target] = SlotRecord(status="writing", version=header.manifest.version)
        self.save(state)
        self.checkpoint("marked-writing")
        record = self._write_slot(bundle, header, state, target)
        if prepare is not None:
            prepare(self.slot_dir(target), header)
            self.checkpoint("prepared")
        # Two durable steps around the slot switch: trust the new keys before it (the old ones stay trusted, so the
        # same bundle can be installed again after a kill), retire the old keys after it.
        for rotation in header.manifest.rotations:
            keyring.apply_rotation(rotation, retire_now=False)
        if header.manifest.rotations and keyring_path is not None:
            keyring.save(keyring_path)
            self.checkpoint("keyring-saved")
        state.slots[target] = record
        state.trial = target
        state.attempts = 0
        self.save(state)
        self.checkpoint("activated")
        if header.manifest.rotations:
            for rotation in header.manifest.rotations:
                keyring.apply_rotation(rotation)
            if keyring_path is not None:
                keyring.save(keyring_path)
                self.checkpoint("keyring-retired")
        self._link(target)
        self.checkpoint("linked")
        self.audit(
            "install",
            {
                "slot": target,
                "version": header.manifest.version,
                "previous": installed,
                "downgrade": bool(installed) and allow_downgrade,
            },
        )
        return InstallResult(target, header.manifest.version, installed)

    def _write_slot(self, bundle: Path, header: Header, state: BootState, target: SlotName) -> SlotRecord:
        """Clear the slot, write the bundle's files and its signed header into it and read them back; a slot that
        fails either is marked bad. Returns the record the slot gets once it is activated."""
        directory = self.slot_dir(target)
        if directory.exists():
            shutil.rmtree(directory)
        directory.mkdir(parents=True)
        self.checkpoint("cleared")
        try:
            for f in header.manifest.files:
                self._write_file(bundle, header, f.name, directory)
        except BundleError:
            state.slots[target] = SlotRecord(status="bad", version=header.manifest.version)
            self.save(state)
            raise
        with open(bundle, "rb") as src:
            header_bytes = src.read(header.length)
        replace_file(directory / SLOT_MANIFEST, header_bytes)
        fsync_dir(directory)
        self.checkpoint("written")
        record = SlotRecord(
            status="verified", version=header.manifest.version, header_sha256=hashlib.sha256(header_bytes).hexdigest()
        )
        problem = self.verify_slot(target, record)
        if problem is not None:
            state.slots[target] = SlotRecord(status="bad", version=header.manifest.version)
            self.save(state)
            raise BundleError(Refusal.CORRUPT, f"read-back failed: {problem}")
        self.checkpoint("read-back")
        return record

    def _finish_retirements(self, slot: SlotName, keyring: Keyring) -> None:
        """Retire the keys the running slot's rotations retire, in case a kill came between switch and save."""
        try:
            rotations = self.read_header(slot).manifest.rotations
        except (OSError, BundleError):
            return
        for rotation in rotations:
            with contextlib.suppress(KeyringError):  # already applied: the signer is retired
                keyring.apply_rotation(rotation)

    def _write_file(self, bundle: Path, header: Header, name: str, directory: Path) -> None:
        entry = next(f for f in header.manifest.files if f.name == name)
        part = directory / (name + ".part")
        written = 0
        with open_stored(bundle, header, entry) as src, open(part, "wb") as out:
            # Never more than the manifest declares: a signed bundle that expands further is refused at once.
            while block := src.read(min(self.chunk, entry.size + 1 - written)):
                written += len(block)
                if written > entry.size:
                    out.close()
                    part.unlink()
                    raise BundleError(
                        Refusal.CORRUPT, f"{bundle}: {name} expands past the {entry.size} bytes its manifest declares"
                    )
                out.write(block)
                self.checkpoint(f"chunk:{name}")
            out.flush()
            os.fsync(out.fileno())
        os.replace(part, directory / name)
        self.checkpoint(f"file:{name}")

    def seed(
        self,
        bundle: Path,
        keyring: Keyring,
        hardware: str | None,
        prepare: Callable[[Path, Header], None] | None = None,
        keyring_path: Path | None = None,
    ) -> InstallResult:
        """First firmware on a new device: installed, then marked good at once (there is nothing to go back to)."""
        state = self.load()
        if state.good is not None:
            raise SlotError(f"slot {state.good} already holds good firmware; use install")
        result = self.install(bundle, keyring, hardware, prepare=prepare, keyring_path=keyring_path)
        self.mark_good()
        return result

    def status(self) -> dict[str, Any]:
        state = self.load()
        return {
            "root": str(self.root),
            "running": self.linked_slot(),
            "good": state.good,
            "trial": state.trial,
            "attempts": state.attempts,
            "max_attempts": state.max_attempts,
            "slots": {name: record.model_dump() for name, record in state.slots.items()},
        }

    def installed_version(self) -> str | None:
        state = self.load()
        return state.slots[state.good].version if state.good else None

    def precheck(
        self,
        header: Header,
        hardware: str | None,
        allow_downgrade: bool,
        keyring: Keyring | None = None,
        device_id: str | None = None,
        permit: Any | None = None,
    ) -> None:
        """The checks install() will make that need only the header: used to refuse a flash before its payload."""
        state = self.load()
        if state.trial is not None:
            raise SlotError(f"slot {state.trial} is still on trial; finish or roll back before flashing again")
        check_target(header.manifest, hardware, self.installed_version(), allow_downgrade)
        if keyring is not None:
            VersionFloor(self.root).check(header.manifest, keyring, device_id, permit)
        AssetStore(self.root).require(header)
