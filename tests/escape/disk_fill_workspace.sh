# what: fill the workspace with many files until the disk is full; the cap gives ENOSPC, and the run that dies of it is reported as disk_limit
# status: failed
# reason: disk_limit
# needs: workspace_size_cap
# denied: disk workspace
# timeout: 30
for i in $(seq 1 64); do  # 512 MB at most
  if ! err=$(head -c 8M /dev/zero 2>&1 > "/workspace/fill-$i"); then
    case "$err" in
      *"No space left"*) echo "DENIED disk workspace (ENOSPC at file $i)" ;;
      *) echo "ESCAPED disk workspace: failed with '$err', not ENOSPC" ;;
    esac
    # The workspace stays full; the script fails as one that ran out of space does.
    exit 1
  fi
done
echo "ESCAPED disk workspace: wrote 512 MB without hitting a cap"
