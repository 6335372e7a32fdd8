# what: upload files with traversal and absolute names; each request is refused before anything runs
# reject-paths: ["../se-escape-{{TOKEN}}", "/etc/se-escape-{{TOKEN}}", "a/../../se-escape-{{TOKEN}}", "..", "/tmp/se-escape-{{TOKEN}}", "a/./../../b"]
echo "ESCAPED the code ran"
