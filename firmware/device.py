"""Assembling a device: backends chosen by configuration, wired to the runtime and the role's machines."""

from __future__ import annotations

from dataclasses import dataclass

from firmware.config import Config
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


def real_devices(config: Config, clock: Clock) -> Devices:
    """Backends for a real device; each library is imported only when its backend is chosen."""
    devices = sim_devices(config, clock)
    if config.gpio.backend != "sim":
        from hal.gpio import make_pin_factory
        from hal.gpio.hookswitch import GpioHookSwitch
        from hal.gpio.keypad import GpioMatrixKeypad

        factory = make_pin_factory(config.gpio.backend)
        k, h = config.keypad, config.hook
        devices.keypad = GpioMatrixKeypad(clock, factory, k.rows, k.cols, k.layout, k.debounce_ms, k.scan_ms)
        devices.hook = GpioHookSwitch(clock, factory, h.pin, h.timing(), h.off_hook_level)
    if config.display.backend == "lcd":
        from hal.lcd import LcdDisplay

        d = config.display
        devices.display = LcdDisplay(d.width, d.height, d.i2c_port, d.i2c_address, d.i2c_expander, d.charmap)
    if config.audio.backend == "sounddevice":
        from hal.sounddevice_audio import SoundDeviceAudioPort

        devices.audio = SoundDeviceAudioPort(clock, config.audio.device or None, config.audio.samplerate)
    return devices


def machines_for(config: Config, devices: Devices) -> list[Machine]:
    """The state machines of the device's role."""
    return []


def assemble(config: Config, clock: Clock, devices: Devices) -> Runtime:
    runtime = Runtime(clock, machines_for(config, devices))
    for device in (devices.keypad, devices.hook, devices.audio, devices.line):
        device.start(runtime.post)
    return runtime
