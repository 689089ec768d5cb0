"""What technician mode says, in English and Spanish: one template per message id, filled from its values."""

from __future__ import annotations

from typing import Any

MESSAGES: dict[str, dict[str, str]] = {
    "enter_code": {"en": "Technician code, then #", "es": "Código de técnico, luego #"},
    "checking_code": {"en": "Checking code...", "es": "Verificando código..."},
    "wrong_code": {"en": "Wrong code. {left} tries left", "es": "Código incorrecto. Quedan {left} intentos"},
    "locked": {"en": "Technician mode locked for {minutes} min", "es": "Modo técnico bloqueado por {minutes} min"},
    "menu": {
        "en": "1 keys 2 hook 3 audio 4 line 5 link 6 status 7 errors 0 exit",
        "es": "1 teclas 2 gancho 3 audio 4 línea 5 enlace 6 estado 7 errores 0 salir",
    },
    "goodbye": {"en": "Technician mode ended", "es": "Modo técnico terminado"},
    "keypad_test": {"en": "Press every key: {keys}", "es": "Pulse cada tecla: {keys}"},
    "key_pressed": {"en": "Key {key} ({left} left)", "es": "Tecla {key} (faltan {left})"},
    "hook_test": {
        "en": "Hang up, lift, then flash ({min}-{max} ms)",
        "es": "Cuelgue, descuelgue y luego haga un destello ({min}-{max} ms)",
    },
    "hook_on": {"en": "On hook", "es": "Colgado"},
    "hook_off": {"en": "Off hook", "es": "Descolgado"},
    "hook_flash": {"en": "Flash {ms} ms", "es": "Destello {ms} ms"},
    "running": {"en": "Testing {test}...", "es": "Probando {test}..."},
    "test_passed": {"en": "{test}: passed", "es": "{test}: correcto"},
    "test_failed": {"en": "{test}: FAILED", "es": "{test}: FALLÓ"},
    "test_simulated": {"en": "{test}: simulated, not tested", "es": "{test}: simulado, sin probar"},
}


def render(message: str, values: dict[str, Any], language: str) -> str:
    template = MESSAGES[message]
    return template.get(language, template["en"]).format(**values)
