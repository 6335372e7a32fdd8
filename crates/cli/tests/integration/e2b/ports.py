"""A server in an E2B sandbox reached from outside through get_host(port), with the official
Python SDK, unmodified: an HTTP server and a WebSocket echo server started as background
commands, requested through the daemon by host name (the Host header, as no wildcard DNS
points at the test's daemon) and by path; a sandbox whose traffic is not public; ports nothing
listens on; unknown and killed sandboxes; another tenant through the daemon's own API. What
each step gave is printed as one JSON object for the Rust test to check."""

import base64
import hashlib
import json
import os
import socket
import time
import urllib.parse

import httpx
from e2b import Sandbox

DAEMON = os.environ["E2B_API_URL"].removesuffix("/e2b")
ADDRESS = urllib.parse.urlsplit(DAEMON)
HTTP_PORT = 8765
WS_PORT = 8766
out = {}

# A WebSocket server of the standard library only: it answers each text message with
# "echo:" and the message.
WS_SERVER = r'''
import base64, hashlib, socket, sys, threading
GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
def serve(conn):
    f = conn.makefile("rb")
    head = b""
    while not head.endswith(b"\r\n\r\n"):
        byte = f.read(1)
        if not byte:
            return
        head += byte
    lines = head.decode().split("\r\n")
    key = next(l.split(":", 1)[1].strip() for l in lines if l.lower().startswith("sec-websocket-key:"))
    accept = base64.b64encode(hashlib.sha1((key + GUID).encode()).digest()).decode()
    conn.sendall(("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                  "Sec-WebSocket-Accept: " + accept + "\r\n\r\n").encode())
    while True:
        h = f.read(2)
        if len(h) < 2:
            return
        n = h[1] & 0x7F
        mask = f.read(4) if h[1] & 0x80 else b"\0\0\0\0"
        payload = bytes(b ^ mask[i % 4] for i, b in enumerate(f.read(n)))
        if h[0] & 0x0F == 8:
            conn.sendall(b"\x88\x00")
            return
        reply = b"echo:" + payload
        conn.sendall(bytes([0x81, len(reply)]) + reply)
server = socket.socket()
server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
server.bind(("0.0.0.0", int(sys.argv[1])))
server.listen()
while True:
    conn, _ = server.accept()
    threading.Thread(target=serve, args=(conn,), daemon=True).start()
'''


def get(path, host=None, headers=None):
    headers = dict(headers or {})
    if host:
        headers["Host"] = host
    return httpx.get(DAEMON + path, headers=headers, timeout=30)


def until_up(request):
    """The answer once the server is up (it starts in the background): not a 502."""
    answer = request()
    for _ in range(60):
        if answer.status_code != 502:
            break
        time.sleep(0.25)
        answer = request()
    return answer


def ws_echo(host, path, message):
    """A WebSocket handshake through the daemon and one message: [status, accept ok, reply]."""
    conn = socket.create_connection((ADDRESS.hostname, ADDRESS.port), timeout=30)
    key = base64.b64encode(os.urandom(16)).decode()
    conn.sendall(
        (f"GET {path} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
         f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
    f = conn.makefile("rb")
    head = b""
    while not head.endswith(b"\r\n\r\n"):
        byte = f.read(1)
        if not byte:
            break
        head += byte
    lines = head.decode(errors="replace").split("\r\n")
    status = int(lines[0].split(" ")[1]) if lines[0] else 0
    expected = base64.b64encode(hashlib.sha1((key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode()).digest())
    accepted = any(l.lower() == "sec-websocket-accept: " + expected.decode().lower() for l in lines)
    if status != 101:
        conn.close()
        return [status, accepted, None]
    payload, mask = message.encode(), os.urandom(4)
    conn.sendall(bytes([0x81, 0x80 | len(payload)]) + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))
    h = f.read(2)
    reply = f.read(h[1] & 0x7F).decode()
    conn.close()
    return [status, accepted, reply]


def tenant_of(key):
    return "e2b-" + hashlib.sha256(key.encode()).hexdigest()[:16]


def answer(response):
    try:
        body = response.json()
    except ValueError:
        body = response.text
    return [response.status_code, body]


sbx = Sandbox.create()
out["sandbox_id"] = sbx.sandbox_id
sbx.files.write("/home/user/hello.txt", "hello from the sandbox")
sbx.files.write("/home/user/ws_echo.py", WS_SERVER)
http_server = sbx.commands.run(f"python3 -m http.server {HTTP_PORT}", background=True, cwd="/home/user")
ws_server = sbx.commands.run(f"python3 ws_echo.py {WS_PORT}", background=True, cwd="/home/user")

host = sbx.get_host(HTTP_PORT)
out["host"] = host
out["by_host"] = answer(until_up(lambda: get("/hello.txt", host=host)))
out["by_path"] = answer(get(f"/e2b/ports/{sbx.sandbox_id}/{HTTP_PORT}/hello.txt"))
out["by_path_root_listing"] = "hello.txt" in get(f"/e2b/ports/{sbx.sandbox_id}/{HTTP_PORT}").text
# The next command reaches it too: the sandbox's processes share its loopback.
fetch = f"python3 -c \"import urllib.request; print(urllib.request.urlopen('http://127.0.0.1:{HTTP_PORT}/hello.txt').read().decode())\""
try:
    out["from_next_command"] = sbx.commands.run(fetch).stdout.strip()
except Exception as e:  # noqa: BLE001 - what failed is what the test shows
    out["from_next_command"] = f"{type(e).__name__}: {e}"
# Our own API's path form: the owner's tenant gets it, another tenant's does not see the sandbox.
ours = f"/session/{sbx.sandbox_id}/ports/{HTTP_PORT}/hello.txt"
out["ours_owner"] = answer(get(ours, headers={"X-Tenant-ID": tenant_of(os.environ["E2B_API_KEY"])}))
out["ours_other_tenant"] = get(ours, headers={"X-Tenant-ID": tenant_of(os.environ["OTHER_API_KEY"])}).status_code

ws_host = sbx.get_host(WS_PORT)
out["ws_by_host"] = ws_echo(ws_host, "/", "ping")
for _ in range(60):
    if out["ws_by_host"][0] != 502:
        break
    time.sleep(0.25)
    out["ws_by_host"] = ws_echo(ws_host, "/", "ping")
out["ws_by_path"] = ws_echo(f"{ADDRESS.hostname}:{ADDRESS.port}", f"/e2b/ports/{sbx.sandbox_id}/{WS_PORT}/", "pong")

out["closed_port"] = answer(get("/", host=sbx.get_host(8799)))
out["unknown_sandbox"] = answer(get("/", host=f"{HTTP_PORT}-nosuchsandbox.{host.split('.', 1)[1]}"))
out["envd_health"] = get("/health", host=sbx.get_host(49983), headers={"X-Access-Token": sbx._envd_access_token}).status_code

secured = Sandbox.create(network={"allow_public_traffic": False})
out["secured_token"] = secured.traffic_access_token is not None
secured.files.write("/home/user/hello.txt", "secured hello")
secured.commands.run(f"python3 -m http.server {HTTP_PORT}", background=True, cwd="/home/user")
secured_host = secured.get_host(HTTP_PORT)
token = {"e2b-traffic-access-token": secured.traffic_access_token}
out["secured_with_token"] = answer(until_up(lambda: get("/hello.txt", host=secured_host, headers=token)))
out["secured_without_token"] = answer(get("/hello.txt", host=secured_host))
other_token = {"e2b-traffic-access-token": sbx.traffic_access_token or "x"}
out["secured_other_token"] = answer(get("/hello.txt", host=secured_host, headers=other_token))
out["secured_by_path_without_token"] = get(f"/e2b/ports/{secured.sandbox_id}/{HTTP_PORT}/hello.txt").status_code
out["secured_by_path_with_token"] = answer(get(f"/e2b/ports/{secured.sandbox_id}/{HTTP_PORT}/hello.txt", headers=token))
secured.kill()

http_server.kill()
ws_server.kill()
sbx.kill()
out["after_kill"] = answer(get("/hello.txt", host=host))
print(json.dumps(out))
