# what: leave a token in /tmp, /workspace, /dev/shm and a cwd file for a later, unrelated run to find
# status: success
# reason: none
for d in /tmp /workspace /dev/shm; do echo "{{TOKEN}}" > "$d/left-behind"; done
mkdir -p /tmp/.hidden && echo "{{TOKEN}}" > /tmp/.hidden/left
echo "{{TOKEN}}" > left-in-cwd
