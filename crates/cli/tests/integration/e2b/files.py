"""E2B's file API past reads and writes, through the official Python SDK (sync), unmodified:
directory watches (recursive and not), signed download and upload URLs used with plain HTTP,
gzip uploads, the entries' metadata, removing a missing path, and what another key's
sandbox can do with any of it. What each step gave is printed as one JSON object for the
Rust test to check."""

import gzip
import json
import os
import time

import httpx
from e2b import Sandbox

OTHER_KEY = os.environ["OTHER_API_KEY"]
SANDBOX_URL = os.environ["E2B_SANDBOX_URL"]
out = {}


def attempt(call):
    """The call's value, or its exception as `Type: message`."""
    try:
        return call()
    except Exception as e:  # noqa: BLE001 - the type and message are what is checked
        return f"{type(e).__name__}: {e}"


def seen(handle):
    """The (name, kind) pairs a watcher has seen since last asked, sorted."""
    return sorted({(e.name, e.type.value) for e in handle.get_new_events()})


sbx = Sandbox.create()
files = sbx.files
files.make_dir("/home/user/w/sub")

# Watches: the directory's own entries, and with `recursive` those below it too.
flat = files.watch_dir("/home/user/w")
deep = files.watch_dir("/home/user/w", recursive=True)
files.write("/home/user/w/a.txt", "one")
sbx.commands.run(
    "cd /home/user/w && echo two >> a.txt && mv a.txt b.txt && chmod 600 b.txt && rm b.txt"
    " && echo deep > sub/c.txt && mkdir new"
)
time.sleep(0.5)
# A directory made after the watch started is followed too.
sbx.commands.run("echo x > /home/user/w/new/d.txt")
time.sleep(0.5)
out["flat"] = seen(flat)
out["deep"] = seen(deep)
out["flat_again"] = seen(flat)
flat.stop()
# Events of a write are there as soon as the write returned.
now = files.watch_dir("/home/user/w")
files.write("/home/user/w/now.txt", "at once")
out["immediate"] = seen(now)
now.stop()
out["flat_after_stop"] = attempt(lambda: seen(flat))
out["watch_missing"] = attempt(lambda: files.watch_dir("/home/user/nope"))
files.write("/home/user/file.txt", "x")
out["watch_file"] = attempt(lambda: files.watch_dir("/home/user/file.txt"))
out["watch_outside"] = attempt(lambda: files.watch_dir("/etc"))

# Signed URLs work with plain HTTP, no token header.
files.write("/home/user/s.txt", "signed content")
url = sbx.download_url("/home/user/s.txt")
out["signed_url_has_signature"] = "signature=v1_" in url
got = httpx.get(url)
out["signed_download"] = [got.status_code, got.text]
up = sbx.upload_url("/home/user/up.txt")
sent = httpx.post(up, files={"file": ("up.txt", b"uploaded by url")})
out["signed_upload"] = [sent.status_code, files.read("/home/user/up.txt")]
# The read URL does not write, nor the write URL read.
out["read_url_posted"] = httpx.post(url, files={"file": ("s.txt", b"no")}).status_code
out["write_url_read"] = httpx.get(up).status_code
# Tampered: another path, another signature.
out["other_path"] = httpx.get(url.replace("s.txt", "up.txt")).status_code
out["tampered"] = httpx.get(url.replace("signature=v1_", "signature=v1_A")).status_code
out["unsigned"] = httpx.get(url.split("&signature")[0]).status_code
expiring = sbx.download_url("/home/user/s.txt", use_signature_expiration=60)
out["before_expiry"] = httpx.get(expiring).status_code
short = sbx.download_url("/home/user/s.txt", use_signature_expiration=1)
time.sleep(2.2)
expired = httpx.get(short)
out["expired"] = [expired.status_code, expired.json().get("message")]

# gzip uploads, and a body that inflates past the cap.
files.write("/home/user/g.txt", "zipped " * 1000, gzip=True)
out["gzip"] = files.read("/home/user/g.txt") == "zipped " * 1000
headers = {
    "X-Access-Token": sbx._envd_access_token,
    "E2b-Sandbox-Id": sbx.sandbox_id,
    "Content-Type": "application/octet-stream",
    "Content-Encoding": "gzip",
}
bomb = gzip.compress(b"\0" * (64 * 1024 * 1024))
out["bomb"] = httpx.post(f"{SANDBOX_URL}/files?path=bomb.bin", content=bomb, headers=headers).status_code
out["bomb_written"] = files.exists("/home/user/bomb.bin")

# Metadata of entries.
info = files.get_info("/home/user/s.txt")
out["info"] = {
    "size": info.size,
    "mode": oct(info.mode),
    "permissions": info.permissions,
    "owner": info.owner,
    "group": info.group,
    "modified_recent": abs(time.time() - info.modified_time.timestamp()) < 120,
    "type": info.type.value,
}
listed = {e.name: e.permissions for e in files.list("/home/user/w")}
out["listed_permissions"] = listed

# User metadata on files (envd 0.6.2), entries in watch events (0.6.3), and the network
# mounts option (0.6.4, which changes nothing here).
with_entry = files.watch_dir("/home/user/w", include_entry=True, allow_network_mounts=True)
written = files.write("/home/user/w/meta.txt", "m", metadata={"Owner": "alice", "stage": "raw"})
out["write_metadata"] = written.metadata
out["info_metadata"] = files.get_info("/home/user/w/meta.txt").metadata
out["list_metadata"] = {e.name: e.metadata for e in files.list("/home/user/w")}.get("meta.txt")
files.write("/home/user/w/meta.txt", "m2")
out["metadata_after_overwrite"] = files.get_info("/home/user/w/meta.txt").metadata
out["bad_metadata"] = attempt(lambda: files.write("/home/user/w/x.txt", "x", metadata={"k": "v" * 5000}))
entries = [e for e in with_entry.get_new_events() if e.name == "meta.txt" and e.type.value == "write"]
out["event_entry"] = [entries[0].entry.name, entries[0].entry.path, entries[0].entry.type.value] if entries else None
with_entry.stop()

# Removing what is not there is done already.
out["remove_missing"] = attempt(lambda: files.remove("/home/user/nope.txt"))
out["remove_missing_below"] = attempt(lambda: files.remove("/home/user/nodir/nope.txt"))

# Another key's sandbox: its token does not open this one's watches or files, nor do
# this sandbox's URLs work for it.
other = Sandbox.create(api_key=OTHER_KEY)
watcher = files.watch_dir("/home/user")
rpc = f"{SANDBOX_URL}/filesystem.Filesystem"
as_other_here = {"X-Access-Token": other._envd_access_token, "E2b-Sandbox-Id": sbx.sandbox_id}
as_other = {"X-Access-Token": other._envd_access_token, "E2b-Sandbox-Id": other.sandbox_id}
body = {"path": "/home/user", "recursive": True}
out["other_create_watcher"] = httpx.post(f"{rpc}/CreateWatcher", json=body, headers=as_other_here).status_code
events = httpx.post(f"{rpc}/GetWatcherEvents", json={"watcherId": watcher._watcher_id}, headers=as_other)
out["other_watcher_events"] = [events.status_code, events.json().get("code")]
removed = httpx.post(f"{rpc}/RemoveWatcher", json={"watcherId": watcher._watcher_id}, headers=as_other)
out["other_remove_watcher"] = removed.status_code
files.write("/home/user/still.txt", "watched")
time.sleep(0.3)
out["own_watcher_after_other"] = ("still.txt", "create") in seen(watcher)
out["other_signed_here"] = httpx.get(url, headers={"E2b-Sandbox-Id": other.sandbox_id}).status_code
other.files.write("/home/user/s.txt", "the other's")
other_url = other.download_url("/home/user/s.txt")
out["other_url_own"] = httpx.get(other_url).text
out["other_url_here"] = httpx.get(other_url, headers={"E2b-Sandbox-Id": sbx.sandbox_id}).status_code
other.kill()

# Once the sandbox is gone, its URLs are refused.
sbx.kill()
out["url_after_kill"] = httpx.get(url).status_code
print(json.dumps(out))
