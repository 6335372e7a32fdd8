# what: on the warm path (a shell run is forked by the zygote), take a token on stdin and in the environment, write it to /tmp, and leave a process behind to meet the next claimant
# status: success
# reason: none
# stdin: "{{TOKEN}}\n"
# env_vars: {"WARM_PLANTED": "{{TOKEN}}"}
read -r given
[ "$given" = "$WARM_PLANTED" ] && echo "stdin and environment arrived"
echo "$given" > /tmp/warm-left-behind-sh
setsid sh -c 'sleep 600' </dev/null >/dev/null 2>&1 &
echo planted
