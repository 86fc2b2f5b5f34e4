from leadflow.starter.cli import app

app(prog_name="leadflow")
