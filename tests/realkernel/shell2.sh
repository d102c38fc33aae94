# shell2: quoting, expansion, $?, && and ||, redirections, /tmp files, cat/ls/head, globs in /sys (run from samples/linux: ../../../shared/tools/realkernel ../../tests/realkernel/shell2.sh exporter/exporter.ko importer/importer.ko hello_debug/hello_debug.ko params/params.ko license_proprietary/license_proprietary.ko tasks/tasks.ko > ../../tests/realkernel/shell2.real.txt)
echo plain 'single $X' "double $?" back\ slash "a\"b" 'it''s' "\$x \\ \`" # a comment
echo -n no-newline; echo " after"
echo -e 'tab\there\nnew line'; echo 'raw\tstays'; echo -e "oct\0101 hex\x42 stop\c"; echo
X=one; Y="two  words"; echo $X "$Y" $Y ${X}_suffix "${Y}"; echo $UNSET "[${UNSET}]"
true; echo "true=$?"; false; echo "false=$?"
false || echo "or ran"; true && echo "and ran"; false && echo never; echo "after=$?"
true || echo never; echo "after=$?"
nosuchcmd; echo "rc=$?"
nosuchcmd 2>/dev/null; echo "rc=$?"
./params.ko; echo "rc=$?"
cat /nope; echo "rc=$?"
cat /sys/module; echo "rc=$?"
cat /proc/modules /nope /proc/sys/kernel/tainted; echo "rc=$?"
echo first > /tmp/out.txt; echo second >> /tmp/out.txt; cat /tmp/out.txt
cat /nope > /tmp/err.txt 2>&1; echo "rc=$?"; cat /tmp/err.txt
cat /nope 2>/dev/null; echo "rc=$?"
echo hi > /nope/x; echo "rc=$?"
insmod nothere.ko 2>/tmp/ins.err; echo "rc=$?"; cat /tmp/ins.err
head -n 1 /tmp/out.txt
head -n 2 /tmp/out.txt /tmp/err.txt
ls
ls /tmp
ls /nope; echo "rc=$?"
ls /
ls /tmp /mods/params.ko /nope; echo "rc=$?"
ls /mods | head -n 2
cat < /tmp/out.txt
cat /nope 2>&1 >/tmp/o2.txt; echo "rc=$?"; cat /tmp/o2.txt
cat < /nope; echo "rc=$?"
insmod params.ko p_int=5; echo "rc=$?"
ls /sys/module/params/parameters
ls /sys/module/params
echo "first: $(ls /sys/module/params/parameters | head -n 1)"
cat /sys/module/params/parameters/p_b*
cat /sys/module/params/parameters/*
echo 77 > /sys/module/params/parameters/p_int; echo "rc=$?"; cat /sys/module/params/parameters/p_int
echo abc > /sys/module/params/parameters/p_int; echo "rc=$?"
echo 1 > /sys/module/params/parameters/p_byte; echo "rc=$?"
for f in /sys/module/params/parameters/p_int /sys/module/params/parameters/p_bool; do echo "$f:"; cat $f; done
if [ -d /sys/module/params ]; then echo loaded; else echo missing; fi
if [ -d /sys/module/exporter ]; then echo loaded; else echo missing; fi
cat /sys/module/params/initstate /sys/module/params/refcnt
cd /sys/module/params/parameters; pwd; cat p_int; cd /mods; pwd
cd /nope; echo "rc=$?"
[ -f params.ko ] && echo "have params.ko"
test -e /nope || echo "no /nope"
echo /mods/*.ko
echo /nope/* p*.ko
rmmod params.ko; echo "rc=$?"
cat /sys/module/params/parameters/p_int; echo "rc=$?"
exit 3
echo never
