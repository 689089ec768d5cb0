"""Assembling a device: backends chosen by configuration, wired to the runtime and the role's machines."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from firmware.config import Config
from firmware.errors import InputError
from firmware.runtime import Machine, Runtime
from hal.audio import AudioPort, SimAudioPort
from hal.clock import Clock
from hal.display import Display, SimDisplay
from hal.hookswitch import HookSwitch, SimHookSwitch
from hal.keypad import Keypad, SimKeypad
from hal.line import Line, SimLine


@dataclass
class Devices:
    keypad: Keypad
    hook: HookSwitch
    audio: AudioPort
    line: Line
    display: Display

    def close(self) -> None:
        for device in (self.keypad, self.hook, self.audio, self.line, self.display):
            device.close()


def sim_devices(config: Config, clock: Clock) -> Devices:
    return Devices(
        keypad=SimKeypad(clock, config.keypad.layout, config.keypad.debounce_ms),
        hook=SimHookSwitch(clock, config.hook.timing()),
        audio=SimAudioPort(clock.now),
        line=SimLine(clock),
        display=SimDisplay(config.display.width, config.display.height),
    )


class DeviceError(InputError):
    """A configured hardware backend cannot be used here; the message names the device and the setting."""


def real_devices(config: Config, clock: Clock) -> Devices:
    """Backends for a real device; each library is imported only when its backend is chosen.

    Any failure to open hardware (library missing, no GPIO chip, no such sound card, a pin already taken)
    becomes one DeviceError naming the device, instead of a traceback on the technician's console.
    """
    devices = sim_devices(config, clock)
    if config.gpio.backend != "sim":
        try:
            from hal.gpio import make_pin_factory
            from hal.gpio.hookswitch import GpioHookSwitch
            from hal.gpio.keypad import GpioMatrixKeypad

            factory = make_pin_factory(config.gpio.backend)
            k, h = config.keypad, config.hook
            devices.keypad = GpioMatrixKeypad(clock, factory, k.rows, k.cols, k.layout, k.debounce_ms, k.scan_ms)
            devices.hook = GpioHookSwitch(clock, factory, h.pin, h.timing(), h.off_hook_level)
        except Exception as exc:  # every library has its own errors; all mean "this GPIO cannot be used"
            devices.close()
            raise DeviceError(f"gpio.backend = {config.gpio.backend!r}: cannot open the keypad and hookswitch:"
                              f" {type(exc).__name__}: {exc}") from exc
    if config.display.backend == "lcd":
        from hal.lcd import LcdDisplay

        d = config.display
        devices.display = LcdDisplay(d.width, d.height, d.i2c_port, d.i2c_address, d.i2c_expander, d.charmap)
    if config.audio.backend == "sounddevice":
        try:
            from hal.sounddevice_audio import SoundDeviceAudioPort

            a = config.audio
            devices.audio = SoundDeviceAudioPort(
                clock, a.device or None, a.samplerate, block_ms=a.block_ms, queue_ms=a.queue_ms,
                prefill_ms=a.prefill_ms, idle_ms=a.idle_ms, stall_ms=a.stall_ms,
            )
        except Exception as exc:
            devices.close()
            raise DeviceError(f"audio.backend = 'sounddevice': {exc}") from exc
    return devices


def machines_for(config: Config, devices: Devices) -> list[Machine]:
    """The state machines of the device's role."""
    if config.device.role == "handset":
        from firmware.handset.wiring import handset_flow

        return [handset_flow(config)]
    return []


def assemble(
    config: Config, clock: Clock, devices: Devices, wall: Callable[[float], datetime] | None = None
) -> Runtime:
    """`wall` turns clock seconds into the date and time the rules need (the simulator sets its own)."""
    runtime = Runtime(clock, machines_for(config, devices))
    if config.device.role == "handset":
        from firmware.handset.wiring import install, system_wall

        line = devices.line
        install(runtime, config, devices.audio.play, line.send, line.dial, line.hang_up, wall or system_wall(clock))
    from firmware.tech.session import attach_to_device

    attach_to_device(runtime, config, clock, devices)  # technician mode, on every role's keypad
    for name in ("keypad", "hook", "audio", "line"):
        try:
            getattr(devices, name).start(runtime.post)
        except Exception as exc:  # a sound card vanishing between open and start, a pin grabbed meanwhile
            devices.close()
            raise DeviceError(f"{name}: cannot start: {type(exc).__name__}: {exc}") from exc
    return runtime
