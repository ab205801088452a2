from rtoc_tui.cli import main

main()
