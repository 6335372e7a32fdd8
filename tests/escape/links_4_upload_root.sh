# what: upload through a planted symlink to / (the host root, as the daemon would resolve it)
# http: 400
# session: links
# files: {"root-link/tmp/se-escape-{{TOKEN}}": "pwned"}
echo "ESCAPED the code ran"
