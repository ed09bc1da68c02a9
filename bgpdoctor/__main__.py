from bgpdoctor.cli import main

main()
