"""The one table of exit statuses every `ringfence` command uses, and the one exception base that carries them.

A script can tell failures apart by status alone; the README prints this table. Code that stops a command raises
a `RingfenceError` subclass (or returns one of these statuses); the command line prints its message as one line,
`ringfence: error: ...`, and exits with its `exit_code`. Never a traceback.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    #: Done, and the answer is yes (a sync both sides agree on, a bundle installed, a scenario as expected).
    OK = 0
    #: Done, and the answer is no: a bundle refused (signature, hardware, version), a sync the sides disagree on,
    #: a scenario's expected event not seen, a diagnostic test failed.
    REFUSED = 1
    #: A bad command line or input: a missing, unreadable, malformed or unwritable file or directory, bad options.
    USAGE = 2
    #: The link could not be opened (refused, no such device, wrong protocol), or was lost and not resumed.
    LINK = 3
    #: The device received a good bundle but could not install or start it (it stays on its good slot).
    INSTALL_FAILED = 4
    #: With --all: at least one device failed (each device's own result is in the report).
    SOME_FAILED = 5
    #: A fault in ringfence itself: one line on stderr; RINGFENCE_DEBUG=1 shows the traceback.
    INTERNAL = 70


class RingfenceError(Exception):
    """Any error a person at the console should read as one line; the subclass says which exit status."""

    exit_code: ExitCode = ExitCode.REFUSED


class InputError(RingfenceError):
    """A bad command line or input file, or a path that cannot be read or written."""

    exit_code = ExitCode.USAGE


class LinkError(RingfenceError):
    """The link to the other side could not be opened, spoke another protocol, or was lost."""

    exit_code = ExitCode.LINK
