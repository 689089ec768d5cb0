from firmware.cli import main

main()
