# what: 1 GB on stdout; the output is cut at the limit and the daemon does not grow
# status: killed
# reason: output_limit
# truncated: stdout
# limits: {"max_output_bytes": 1048576}
# timeout: 120
# mixed: heavy
head -c 1G /dev/zero
