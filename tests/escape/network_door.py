# what: a run whose egress policy names the daemon's API and a host loopback listener reaches neither through its door (the proxy refuses loopback and its own API), nothing directly, no DNS; garbage and a huge CONNECT line get a 400
# status: success
# reason: none
# egress: ["localhost:{{DAEMON_PORT}}", "localhost:{{LISTEN_PORT}}"]
# denied: proxy http://localhost:{{DAEMON_PORT}}/health, connect localhost:{{DAEMON_PORT}}, connect localhost:{{LISTEN_PORT}}, direct 127.0.0.1:{{DAEMON_PORT}}, direct 127.0.0.1:{{LISTEN_PORT}}, dns, raw bytes, huge line
import http.client
import socket


def proxied(what, tunnel=None, url=None):
    c = http.client.HTTPConnection("127.0.0.1", 3128, timeout=10)
    try:
        if tunnel:
            host, port = tunnel.rsplit(":", 1)
            c.set_tunnel(host, int(port))
            c.request("GET", "/health")
        else:
            c.request("GET", url)
        status = c.getresponse().status
        print(f"DENIED {what} ({status})" if status >= 400 else f"ESCAPED {what} answered {status}")
    except OSError as e:
        print(f"DENIED {what} ({e})")


def direct(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=5).close()
        print(f"ESCAPED direct 127.0.0.1:{port} connected")
    except OSError as e:
        print(f"DENIED direct 127.0.0.1:{port} ({e})")


def abuse(what, payload):
    s = socket.create_connection(("127.0.0.1", 3128), timeout=10)
    try:
        s.sendall(payload)
    except OSError:
        pass
    line = s.recv(200).split(b"\r\n")[0].decode(errors="replace")
    print(f"DENIED {what} ({line})" if " 400 " in line + " " else f"ESCAPED {what}: {line}")


proxied("proxy http://localhost:{{DAEMON_PORT}}/health", url="http://localhost:{{DAEMON_PORT}}/health")
proxied("connect localhost:{{DAEMON_PORT}}", tunnel="localhost:{{DAEMON_PORT}}")
proxied("connect localhost:{{LISTEN_PORT}}", tunnel="localhost:{{LISTEN_PORT}}")
direct({{DAEMON_PORT}})
direct({{LISTEN_PORT}})
try:
    socket.getaddrinfo("localhost.localdomain", 80)
    print("ESCAPED dns resolved")
except OSError as e:
    print(f"DENIED dns ({e})")
abuse("raw bytes", bytes(range(256)) * 4)
abuse("huge line", b"CONNECT " + b"a" * 100000 + b".test:443 HTTP/1.1\r\n\r\n")
