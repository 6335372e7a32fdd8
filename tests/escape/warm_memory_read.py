# what: look for earlier runs in this process's own memory (on the warm path it is a fork of a zygote that served them): every readable mapping through /proc/self/mem, every string the interpreter holds, the environment (the runner knows every earlier token)
# status: success
# reason: none
# denied: memory, objects, environment
import gc
import os
import re

own = b"{{TOKEN}}"
# Any token of the runner's form: its prefix, then 32 hex digits.
pattern = re.compile(own[: own.rindex(b"-") + 1] + rb"[0-9a-f]{32}")


def foreign(data):
    return {t.decode() for t in pattern.findall(data) if t != own}


found, scanned, regions = set(), 0, 0
CAP, CHUNK = 512 << 20, 1 << 20
with open("/proc/self/maps") as maps, open("/proc/self/mem", "rb", buffering=0) as mem:
    for line in maps:
        fields = line.split()
        span, perms, name = fields[0], fields[1], fields[5] if len(fields) > 5 else ""
        if perms[0] != "r" or name in ("[vvar]", "[vvar_vclock]", "[vsyscall]"):
            continue
        start, end = (int(x, 16) for x in span.split("-"))
        regions += 1
        tail = b""
        for at in range(start, end, CHUNK):
            if scanned >= CAP:
                break
            try:
                mem.seek(at)
                data = mem.read(min(CHUNK, end - at))
            except OSError:
                tail = b""
                continue
            scanned += len(data)
            found |= foreign(tail + data)
            tail = data[-64:]
print(f"DENIED memory ({regions} regions, {scanned >> 20} MiB read)" if not found
      else f"ESCAPED memory: {sorted(found)}")

# Strings are not tracked by the collector: take those its containers refer to.
gc.unfreeze()  # a zygote's objects too
held, strings = set(), 0
for obj in gc.get_objects():
    for ref in gc.get_referents(obj):
        if isinstance(ref, (str, bytes)):
            strings += 1
            held |= foreign(ref.encode(errors="replace") if isinstance(ref, str) else ref)
print(f"DENIED objects ({strings} strings)" if not held else f"ESCAPED objects: {sorted(held)}")

env = set().union(*(foreign(f"{k}={v}".encode()) for k, v in os.environ.items()))
print(f"DENIED environment ({len(os.environ)} variables)" if not env else f"ESCAPED environment: {sorted(env)}")
