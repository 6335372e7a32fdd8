# what: plant symlinks and hard links to host paths in a session's workspace, for the daemon to follow later (also as output artifacts)
# status: success
# reason: none
# session: links
# denied: hard link /etc/passwd, hard link interpreter
ln -s /etc etc-link
ln -s /etc/passwd host-passwd
ln -s / root-link
ln -s {{STATE_DIR}} state-link
mkdir -p output
ln -s /etc/shadow output/shadow.txt
ln -s /root output/root-dir
for f in {{CANARY_PATHS}}; do ln -s "$f" "output/canary-$(basename "$f").txt"; done
mkfifo output/fifo.txt
echo original > original.txt
ln original.txt hard.txt
if ln /etc/passwd hard-passwd 2>/dev/null; then echo "ESCAPED hard link /etc/passwd"; else echo "DENIED hard link /etc/passwd"; fi
if ln "$(readlink -f /usr/bin/python3)" hard-python 2>/dev/null; then echo "ESCAPED hard link interpreter"; else echo "DENIED hard link interpreter"; fi
