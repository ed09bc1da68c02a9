from bgpdoctor.cli import program

program()
