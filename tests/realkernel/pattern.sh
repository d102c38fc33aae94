# ${var#pattern} and friends inside double quotes: the pattern stays a pattern
# (run from samples/linux: ../../../shared/tools/realkernel ../../tests/realkernel/pattern.sh miscdev/miscdev.ko)
d=/sys/class/misc/hpet
echo ${d##*/} ${d%/*}
echo "${d##*/}" "${d%/*}" "${d#"/sys"}" "${d#'/sys'}" "${d#\*}" "${d%%/*}|"
echo "${d%"${d##*/}"}" "${d#"*"}" "${x:-*}" "${x:-'q'}" "${d#/sys/[a-c]*/}"
for f in /sys/class/misc/h*; do echo "${f##*/} $(cat $f/dev)"; done
