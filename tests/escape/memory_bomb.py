# what: grow past the run's memory limit with shared anonymous memory, which a per-process data limit does not count
# status: killed
# reason: memory_limit
# needs: cgroup:memory
# limits: {"memory_mb": 64}
# timeout: 30
# mixed: heavy
import mmap

LIMIT_MB, CHUNK_MB = 64, 8
held = []
for _ in range(6 * LIMIT_MB // CHUNK_MB):
    chunk = mmap.mmap(-1, CHUNK_MB << 20)  # MAP_SHARED | MAP_ANONYMOUS
    chunk.write(b"\x01" * (CHUNK_MB << 20))  # written, so resident, not just reserved
    held.append(chunk)
# Only reached when nothing stopped the growth.
print(f"ESCAPED memory: {len(held) * CHUNK_MB} MB resident under a {LIMIT_MB} MB limit")
