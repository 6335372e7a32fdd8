# what: upload a file through a planted directory symlink into the host's /etc; refused before anything runs
# http: 400
# session: links
# files: {"etc-link/se-escape-{{TOKEN}}.conf": "pwned"}
echo "ESCAPED the code ran"
