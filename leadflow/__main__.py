from leadflow.cli.main import app

app(prog_name="leadflow")
