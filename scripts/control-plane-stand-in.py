#!/usr/bin/env python3
"""A control-plane stand-in for image and deployment tests: answers every POST with 200 and
appends it, as one JSON line (path, authorization header, body), to the file it is given.

Usage: control-plane-stand-in.py RECORD_FILE PORT_FILE
Listens on 127.0.0.1 on a free port, written to PORT_FILE once it serves."""
import http.server
import json
import sys


class Recorder(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        try:
            body = json.loads(raw or b"null")
        except ValueError:
            body = raw.decode("utf-8", "replace")
        entry = {"path": self.path, "authorization": self.headers.get("Authorization"), "body": body}
        with open(sys.argv[1], "a", encoding="utf-8") as record:
            record.write(json.dumps(entry) + "\n")
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *_):
        pass


server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
with open(sys.argv[2], "w", encoding="utf-8") as port_file:
    port_file.write(str(server.server_address[1]))
server.serve_forever()
