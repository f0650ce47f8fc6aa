from valuesim.cli import main

main()
