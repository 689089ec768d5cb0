"""Exit statuses shared by `ringfence bundle`, `slot` and `flash`, so scripts can tell failures apart."""

OK = 0
#: The bundle was refused: bad signature, unknown key, wrong hardware, truncated, corrupt, lower version.
REFUSED = 1
#: Bad command line or input file (click's usage errors and firmware.cli.UserError).
USAGE = 2
#: The link could not be opened, or was lost and could not be resumed within the retries.
LINK = 3
#: The device received a good bundle but could not install or start it (it stays on its good slot).
INSTALL_FAILED = 4
#: With --all: at least one device failed (each device's own result is in the report).
SOME_FAILED = 5
