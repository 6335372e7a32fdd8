"""Runs code through the client openapi-python-client generated from docs/openapi.json: every
field of the request is a typed argument. Prints one JSON object of what it saw."""
import base64
import json
import os
import sys

from sandbox_client import AuthenticatedClient
from sandbox_client.api.execution import execute
from sandbox_client.models import (
    EncodedFile,
    ExecuteRequest,
    ExecuteRequestEnvVarsType0,
    ExecuteRequestFilesType0,
    FileEncoding,
)

client = AuthenticatedClient(base_url=os.environ["BASE_URL"], token=os.environ["TOKEN"])

files = ExecuteRequestFilesType0()
files["data/in.txt"] = "from the client"
files["raw.bin"] = EncodedFile(content=base64.b64encode(b"\x00\x01binary").decode(), encoding=FileEncoding.BASE64)
env = ExecuteRequestEnvVarsType0()
env["GREETING"] = "hello"

python = ExecuteRequest(
    code="import os\nprint(open('data/in.txt').read(), os.environ['GREETING'], open('raw.bin','rb').read()[2:].decode())",
    language="python",
    template=sys.argv[1],
    files=files,
    env_vars=env,
    timeout=30,
)
shell = ExecuteRequest(code="echo \"$GREETING from the shell\"", language="shell", env_vars=env)
out = {}
for name, request in [("python", python), ("shell", shell)]:
    response = execute.sync_detailed(client=client, body=request)
    parsed = response.parsed
    out[name] = {
        "status": int(response.status_code),
        "model": type(parsed).__name__,
        "stdout": getattr(parsed, "stdout", None),
        "body": json.loads(response.content),
    }
print(json.dumps(out))
