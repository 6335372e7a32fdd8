# what: write kernel settings through /proc/sys, /proc/sysrq-trigger and /sys
# status: success
# reason: none
# denied: /proc/sys/kernel/hostname, /proc/sys/vm/drop_caches, /proc/sys/kernel/core_pattern, /proc/sysrq-trigger, /proc/sys/kernel/modprobe, /sys, oom_score_adj
for f in /proc/sys/kernel/hostname /proc/sys/vm/drop_caches /proc/sys/kernel/core_pattern /proc/sysrq-trigger /proc/sys/kernel/modprobe; do
  if (echo 1 > "$f") 2>/dev/null; then echo "ESCAPED $f written"; else echo "DENIED $f"; fi
done
if [ -d /sys/kernel ]; then
  if (echo 1 > /sys/kernel/mm/transparent_hugepage/enabled) 2>/dev/null || touch /sys/escape 2>/dev/null; then
    echo "ESCAPED /sys writable"; else echo "DENIED /sys (read-only)"; fi
else echo "DENIED /sys (absent)"; fi
if (echo -1000 > /proc/self/oom_score_adj) 2>/dev/null; then echo "ESCAPED oom_score_adj lowered"; else echo "DENIED oom_score_adj"; fi
