# what: upload files over planted symlinks and hard links; the links are replaced, never followed to the host
# status: success
# reason: none
# session: links
# files: {"host-passwd": "replaced\n", "output/shadow.txt": "mine\n", "hard.txt": "new\n"}
# denied: upload over symlink, upload over artifact symlink, upload over hard link
if [ -L host-passwd ]; then echo "ESCAPED upload over symlink: still a link"
elif [ "$(cat host-passwd)" = replaced ]; then echo "DENIED upload over symlink (the link was replaced)"
else echo "ESCAPED upload over symlink: $(cat host-passwd)"; fi
if [ ! -L output/shadow.txt ] && [ "$(cat output/shadow.txt)" = mine ]; then echo "DENIED upload over artifact symlink"
else echo "ESCAPED upload over artifact symlink"; fi
if [ "$(cat hard.txt)" = new ] && [ "$(cat original.txt)" = original ]; then echo "DENIED upload over hard link (the link was replaced)"
else echo "ESCAPED upload over hard link: wrote through to its other name"; fi
