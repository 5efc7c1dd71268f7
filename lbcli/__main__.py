from lbcli.cli.main import run

run()
